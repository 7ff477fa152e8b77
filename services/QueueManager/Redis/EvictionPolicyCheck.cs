using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace WebhookConnect.QueueManager.Redis;

/// <summary>
/// Warns at start-up (and when a connection to a primary is restored) when Redis may evict keys: with any
/// <c>maxmemory-policy</c> other than <c>noeviction</c>, a Redis at its <c>maxmemory</c> silently deletes keys,
/// and those keys are accepted messages, leases and channel configs (docs/queue-manager.md, "Redis memory").
/// With <c>noeviction</c> a full Redis refuses writes with OOM, which Publish turns into UNAVAILABLE and ingress
/// into its spool: nothing accepted is lost. Managed Redis services often refuse <c>CONFIG</c>; then the check
/// says it could not look, and the operator has to check the provider's setting. Never stops the process.
/// StackExchange.Redis sends CONFIG only on a connection in admin mode, which also unlocks FLUSHALL and friends; so
/// the check opens its own short-lived admin connection instead of putting the process's multiplexer in admin mode.
/// </summary>
public sealed partial class EvictionPolicyCheck(
    IConnectionMultiplexer redis, IOptions<QueueManagerOptions> options, ILogger<EvictionPolicyCheck> logger) : IHostedService, IDisposable
{
    public const string Required = "noeviction";

    private readonly CancellationTokenSource _stopping = new();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored += OnConnectionRestored;
        _ = CheckWhenConnectedAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored -= OnConnectionRestored;
        await _stopping.CancelAsync();
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            _ = CheckEverywhereAsync();
        }
    }

    /// <summary>The multiplexer connects in the background (Redis may be down at start), so the first check waits
    /// until a primary answers; later connections are checked when they are restored.</summary>
    private async Task CheckWhenConnectedAsync(CancellationToken stopping)
    {
        try
        {
            while (!await CheckEverywhereAsync())
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stopping);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Checks every connected primary; false when none was connected.</summary>
    private async Task<bool> CheckEverywhereAsync()
    {
        if (!redis.GetServers().Any(s => s.IsConnected && !s.IsReplica))
        {
            return false;
        }

        var configuration = RedisConnection.Configuration(options.Value);
        configuration.AllowAdmin = true;
        configuration.ClientName = "webhookconnect-eviction-check";
        try
        {
            await using var admin = await ConnectionMultiplexer.ConnectAsync(configuration);
            foreach (var server in admin.GetServers())
            {
                if (server.IsConnected && !server.IsReplica)
                {
                    await CheckAsync(server);
                }
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogCouldNotCheck(logger, configuration.ToString(includePassword: false), ex.Message);
        }

        return true;
    }

    private async Task CheckAsync(IServer server)
    {
        var where = server.EndPoint.ToString() ?? "";
        try
        {
            var values = (await server.ConfigGetAsync("maxmemory*")).ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);
            var policy = values.GetValueOrDefault("maxmemory-policy", "");
            var maxMemory = values.GetValueOrDefault("maxmemory", "");
            if (policy.Length == 0)
            {
                LogCouldNotCheck(logger, where, "CONFIG GET answered without maxmemory-policy");
            }
            else if (!string.Equals(policy, Required, StringComparison.OrdinalIgnoreCase))
            {
                LogEvicting(logger, where, policy);
            }
            else if (maxMemory == "0")
            {
                LogNoLimit(logger, where);
            }
            else
            {
                LogSafe(logger, where, maxMemory);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Managed Redis (ElastiCache, Azure Cache, Memorystore) and ACLs commonly refuse CONFIG.
            LogCouldNotCheck(logger, where, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis {Server} has maxmemory-policy {Policy}: when it reaches maxmemory it silently evicts keys, which are accepted messages and channel settings. Set maxmemory-policy noeviction (docs/queue-manager.md, Redis memory)")]
    private static partial void LogEvicting(ILogger logger, string server, string policy);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not check the maxmemory-policy of Redis {Server} ({Reason}); make sure it is noeviction, or accepted messages can be evicted (docs/queue-manager.md, Redis memory)")]
    private static partial void LogCouldNotCheck(ILogger logger, string server, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis {Server} has maxmemory-policy noeviction but no maxmemory: it grows until the machine runs out of memory; set maxmemory for production (docs/queue-manager.md, Redis memory)")]
    private static partial void LogNoLimit(ILogger logger, string server);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis {Server}: maxmemory-policy noeviction, maxmemory {MaxMemory} bytes")]
    private static partial void LogSafe(ILogger logger, string server, string maxMemory);

    public void Dispose() => _stopping.Dispose();
}

using StackExchange.Redis;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Queue;

namespace WebhookConnect.QueueManager.Redis;

/// <summary>
/// Loads every Lua script on every primary (each Redis Cluster master has its own script cache) when the
/// queue-manager starts and whenever a connection is restored, so that a script Redis cannot compile is reported at
/// start-up, and a restarted or new primary gets the scripts before the first call instead of answering it NOSCRIPT.
/// Nothing depends on it: a call on a server without the script loads it there (<see cref="RedisScript"/>).
/// </summary>
public sealed partial class ScriptPreloader(IConnectionMultiplexer redis, ILogger<ScriptPreloader> logger) : IHostedService
{
    /// <summary>Every script the queue-manager runs.</summary>
    public static IReadOnlyList<RedisScript> Scripts { get; } = [.. QueueScripts.All, ChannelStore.DeleteScript];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored += OnConnectionRestored;
        return LoadEverywhereAsync();
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored -= OnConnectionRestored;
        return Task.CompletedTask;
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            _ = LoadEverywhereAsync();
        }
    }

    private async Task LoadEverywhereAsync()
    {
        foreach (var server in redis.GetServers())
        {
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            foreach (var script in Scripts)
            {
                try
                {
                    await script.LoadAsync(server);
                }
                catch (RedisServerException ex) when (ex.Message.Contains("compil", StringComparison.OrdinalIgnoreCase))
                {
                    LogDoesNotCompile(logger, ex, script.Name, server.EndPoint.ToString() ?? "");
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    // Unreachable or not ready: the first call loads the script instead.
                    LogNotLoaded(logger, server.EndPoint.ToString() ?? "", ex.Message);
                    break;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Redis cannot compile the Lua script {Script} (on {Server}); every call of it will fail")]
    private static partial void LogDoesNotCompile(ILogger logger, Exception exception, string script, string server);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lua scripts not preloaded on {Server} ({Reason}); they load on first use")]
    private static partial void LogNotLoaded(ILogger logger, string server, string reason);
}

using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using WebhookConnect.ServiceDefaults;

namespace WebhookConnect.QueueManager.Redis;

/// <summary>
/// The one multiplexer of the process, registered as <see cref="IConnectionMultiplexer"/> so that everything that
/// looks for it there finds it (our services, OpenTelemetry's Redis instrumentation). StackExchange.Redis pipelines
/// the commands of every caller over one connection per server.
/// </summary>
public static class RedisConnection
{
    public static IServiceCollection AddRedis(this IServiceCollection services)
    {
        // The container creates it on first use and disposes it at shutdown (as .NET Aspire's Redis client does).
        services.AddSingleton<IConnectionMultiplexer>(sp =>
            ConnectionMultiplexer.Connect(Configuration(sp.GetRequiredService<IOptions<QueueManagerOptions>>().Value)));
        services.AddHostedService<ScriptPreloader>();
        services.AddHostedService<EvictionPolicyCheck>();
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: [HealthCheckTags.Ready]);
        return services;
    }

    public static ConfigurationOptions Configuration(QueueManagerOptions options)
    {
        var configuration = ConfigurationOptions.Parse(options.Redis);
        // Start while Redis is down, report not-ready, and keep reconnecting in the background.
        configuration.AbortOnConnectFail = false;
        // While disconnected, fail commands at once instead of queueing them until the timeout: Publish then answers
        // UNAVAILABLE quickly and ingress spools (SPEC §4), streams end and connectors reconnect elsewhere.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        return configuration;
    }
}

/// <summary>Ready only while Redis answers PING: without Redis the queue-manager can do nothing useful.</summary>
public sealed class RedisHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // Shorter than the multiplexer's async timeout: a probe must answer well within the kubelet's.
            var latency = await redis.GetDatabase().PingAsync().WaitAsync(Patience, cancellationToken);
            return HealthCheckResult.Healthy($"PING {latency.TotalMilliseconds:0.0} ms");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"Redis does not answer: {ex.Message}");
        }
    }
}

using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace WebhookConnect.Connector.Streams;

/// <summary>/readyz: ready only while every subscription's stream is subscribed.</summary>
public sealed class StreamsHealthCheck(ConnectorWorker worker) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var down = worker.Streams.Where(s => !s.IsUp).Select(s => s.Channel).ToList();
        return Task.FromResult(down.Count == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("stream not established for channel " + string.Join(", ", down)));
    }
}

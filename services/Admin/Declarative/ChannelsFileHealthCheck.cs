using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace WebhookConnect.Admin.Declarative;

/// <summary>Not ready until the channels file (if any) has been applied: a rollout waits for the declared channels.</summary>
public sealed class ChannelsFileHealthCheck(ChannelsFileApplier applier) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(applier.Applied
            ? HealthCheckResult.Healthy("channels file applied")
            : HealthCheckResult.Unhealthy("the channels file has not been applied yet (is the queue-manager reachable?)"));
}

using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace WebhookConnect.Admin.Declarative;

/// <summary>
/// Not ready until the channels file (if any) has been applied once: a rollout waits for the declared channels.
/// A later invalid version keeps the replica ready: it works with what it applied before, and taking every replica
/// out of service would not help the operator fix the file. The error is logged and shows in the metric
/// <c>webhookconnect_admin_channels_file_applied</c>.
/// </summary>
public sealed class ChannelsFileHealthCheck(ChannelsFileApplier applier) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(
            !applier.Applied ? HealthCheckResult.Unhealthy("the channels file has not been applied yet (is the queue-manager reachable?)")
            : applier.Problem is { } problem ? HealthCheckResult.Healthy("the newest channels file was not applied, the previous one stays: " + problem)
            : HealthCheckResult.Healthy("channels file applied"));
}

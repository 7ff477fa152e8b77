using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace WebhookConnect.ServiceDefaults.Grpc;

/// <summary>
/// Not ready once the host starts stopping: load balancers and gRPC health watchers (NOT_SERVING) stop sending new
/// work while running streams drain.
/// </summary>
internal sealed class StoppingHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("the process is shutting down")
            : HealthCheckResult.Healthy());
}

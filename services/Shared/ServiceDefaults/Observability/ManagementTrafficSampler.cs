using System.Diagnostics;
using OpenTelemetry.Trace;
using WebhookConnect.ServiceDefaults.Management;

namespace WebhookConnect.ServiceDefaults.Observability;

/// <summary>
/// Keeps housekeeping out of traces, so that what a trace view lists is the webhooks:
/// <list type="bullet">
/// <item>probe and scrape requests: Kubernetes calls /healthz and /readyz every few seconds and Prometheus scrapes
/// /metrics. ASP.NET Core passes <c>url.path</c> at sampling time, so the request span is never created rather than
/// created and filtered.</item>
/// <item>Redis commands that belong to no request: queue-manager's sweeps (every second per replica), its health
/// PINGs and the client's own connection checks. The Redis instrumentation gives such commands no parent and tags
/// them <c>db.system</c> = redis when the span is created; a Redis command issued while serving a request or a
/// delivery keeps its parent and stays.</item>
/// </list>
/// </summary>
internal sealed class ManagementTrafficSampler(Sampler inner) : Sampler
{
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        if (samplingParameters.Tags is { } tags)
        {
            if (samplingParameters.Kind == ActivityKind.Server)
            {
                foreach (var (key, value) in tags)
                {
                    if (key == "url.path" && value is string path && ManagementEndpoints.IsManagementPath(path))
                    {
                        return new SamplingResult(SamplingDecision.Drop);
                    }
                }
            }
            else if (samplingParameters.Kind == ActivityKind.Client && samplingParameters.ParentContext.TraceId == default)
            {
                foreach (var (key, value) in tags)
                {
                    if (key is "db.system" or "db.system.name" && value is "redis")
                    {
                        return new SamplingResult(SamplingDecision.Drop);
                    }
                }
            }
        }

        return inner.ShouldSample(samplingParameters);
    }
}

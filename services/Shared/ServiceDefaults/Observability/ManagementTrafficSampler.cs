using System.Diagnostics;
using OpenTelemetry.Trace;
using WebhookConnect.ServiceDefaults.Management;

namespace WebhookConnect.ServiceDefaults.Observability;

/// <summary>
/// Keeps probe and scrape requests out of traces: Kubernetes calls /healthz and /readyz every few seconds and
/// Prometheus scrapes /metrics, which would otherwise bury real traces. ASP.NET Core passes <c>url.path</c> at
/// sampling time, so the request span is never created rather than created and filtered.
/// </summary>
internal sealed class ManagementTrafficSampler(Sampler inner) : Sampler
{
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        if (samplingParameters.Kind == ActivityKind.Server && samplingParameters.Tags is { } tags)
        {
            foreach (var (key, value) in tags)
            {
                if (key == "url.path" && value is string path && ManagementEndpoints.IsManagementPath(path))
                {
                    return new SamplingResult(SamplingDecision.Drop);
                }
            }
        }

        return inner.ShouldSample(samplingParameters);
    }
}

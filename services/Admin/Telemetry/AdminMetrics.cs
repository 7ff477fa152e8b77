using System.Diagnostics.Metrics;
using Grpc.Core;
using WebhookConnect.Admin.Declarative;

namespace WebhookConnect.Admin.Telemetry;

/// <summary>
/// The admin service's metrics: calls forwarded to the queue-manager by method and gRPC status (both transports),
/// and whether the newest channels file is in effect, so an alert can catch a bad ConfigMap that only logged an error.
/// </summary>
public sealed class AdminMetrics
{
    private readonly Counter<long> _requests;

    public AdminMetrics(IMeterFactory meterFactory, ChannelsFileApplier applier)
    {
        var meter = meterFactory.Create(ServiceDefaults.Telemetry.MeterName("Admin"));
        _requests = meter.CreateCounter<long>("webhookconnect.admin.requests", description: "Admin calls forwarded to the queue-manager, by method and gRPC status code (gRPC and the JSON twin alike).");
        meter.CreateObservableGauge(
            "webhookconnect.admin.channels_file_applied",
            () => applier.Applied && applier.Problem is null ? 1 : 0,
            description: "1 when the newest version of Admin:ChannelsFile is applied (or none is configured), 0 while it is invalid or not applied yet.");
    }

    public void Request(string method, StatusCode code) =>
        _requests.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("code", code.ToString()));
}

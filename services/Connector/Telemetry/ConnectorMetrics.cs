using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using WebhookConnect.Connector.Delivery;
using SharedTelemetry = WebhookConnect.ServiceDefaults.Telemetry;

namespace WebhookConnect.Connector.Telemetry;

/// <summary>
/// The connector's instruments (SPEC §10), exported on <c>/metrics</c> as
/// <c>webhookconnect_connector_target_duration_seconds{channel,outcome}</c> (one observation per target call,
/// local retries included), <c>webhookconnect_connector_stream_up{channel}</c> (1 while subscribed),
/// <c>webhookconnect_connector_deliveries_total{channel,outcome}</c> (acked, rejected, retry) and
/// <c>webhookconnect_connector_reconnects_total{channel,status}</c> and
/// <c>webhookconnect_connector_protocol_info{channel,protocol}</c> (1 for the protocol the channel's stream uses).
/// </summary>
public sealed class ConnectorMetrics
{
    private readonly Histogram<double> _targetDuration;
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _reconnects;
    private readonly ConcurrentDictionary<string, int> _streamUp = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _protocols = new(StringComparer.Ordinal);

    public ConnectorMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(SharedTelemetry.MeterName("Connector"));
        _targetDuration = meter.CreateHistogram("webhookconnect.connector.target_duration", unit: "s",
            description: "Duration of each call to a local target, local retries counted separately.",
            advice: SharedTelemetry.SecondsHistogramAdvice);
        _deliveries = meter.CreateCounter<long>("webhookconnect.connector.deliveries", description: "Deliveries settled, by outcome (acked, rejected, retry).");
        _reconnects = meter.CreateCounter<long>("webhookconnect.connector.reconnects", description: "Streams that ended and will be reopened, by gRPC status.");
        meter.CreateObservableGauge("webhookconnect.connector.stream_up", ObserveStreams, description: "1 while the channel's stream is subscribed, else 0.");
        meter.CreateObservableGauge("webhookconnect.connector.protocol_info", ObserveProtocols,
            description: "1 for the protocol (grpc, websocket, sse, long-poll) of the channel's last subscribed connection.");
    }

    public void TargetCall(string channel, TimeSpan duration, DeliveryResult result) =>
        _targetDuration.Record(duration.TotalSeconds, new("channel", channel), new("outcome", result.Label));

    public void Settled(string channel, DeliveryResult result) =>
        _deliveries.Add(1, new("channel", channel), new("outcome", result.Label));

    public void StreamEnded(string channel, string status) =>
        _reconnects.Add(1, new("channel", channel), new("status", status));

    public void StreamUp(string channel, bool up) => _streamUp[channel] = up ? 1 : 0;

    public void ProtocolInUse(string channel, string protocol) => _protocols[channel] = protocol;

    private IEnumerable<Measurement<int>> ObserveProtocols()
    {
        foreach (var (channel, protocol) in _protocols)
        {
            yield return new Measurement<int>(1, new KeyValuePair<string, object?>("channel", channel), new KeyValuePair<string, object?>("protocol", protocol));
        }
    }

    private IEnumerable<Measurement<int>> ObserveStreams()
    {
        foreach (var (channel, up) in _streamUp)
        {
            yield return new Measurement<int>(up, new KeyValuePair<string, object?>("channel", channel));
        }
    }
}

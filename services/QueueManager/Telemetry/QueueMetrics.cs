using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using WebhookConnect.ServiceDefaults;

namespace WebhookConnect.QueueManager.Telemetry;

/// <summary>
/// The queue-manager's SPEC §10 metrics. Counters and histograms count what this replica did (Prometheus sums
/// them across pods); <c>webhookconnect_queue_messages</c> is the channel's global state read from Redis, the same
/// value on every replica (aggregate it with max, not sum); <c>webhookconnect_connections</c> counts the streams
/// this replica holds (sum across pods).
/// </summary>
public sealed class QueueMetrics
{
    private readonly Counter<long> _deliveries;
    private readonly Histogram<double> _publishDuration;
    private readonly Histogram<double> _endToEnd;
    private readonly ConcurrentDictionary<string, QueueGauges> _queues = new(StringComparer.Ordinal);
    private Func<IEnumerable<(string Channel, string Protocol, int Count)>> _connectionsByChannel = () => [];

    public QueueMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(ServiceDefaults.Telemetry.MeterName("QueueManager"));
        _deliveries = meter.CreateCounter<long>("webhookconnect.deliveries", description: "Deliveries and their settlement by this replica, by channel and outcome (delivered, acked, retry, rejected).");
        _publishDuration = meter.CreateHistogram<double>("webhookconnect.publish.duration", unit: "s", description: "Time to durably queue a Publish in Redis, by outcome.", advice: ServiceDefaults.Telemetry.SecondsHistogramAdvice);
        _endToEnd = meter.CreateHistogram<double>("webhookconnect.end_to_end", unit: "s", description: "From receipt by ingress (received_at) to the ack, by channel.", advice: ServiceDefaults.Telemetry.SecondsHistogramAdvice);
        meter.CreateObservableGauge("webhookconnect.queue.messages", ObserveQueues, description: "Messages of a channel by state (queued, in_flight, delayed, dead_letter), from Redis: the same on every replica.");
        meter.CreateObservableGauge("webhookconnect.connections", ObserveConnections, description: "Connections this replica holds, by channel and protocol (grpc, websocket, sse, long-poll).");
    }

    public void Delivered(string channel, int count) => _deliveries.Add(count, Tag("channel", channel), Tag("outcome", "delivered"));

    public void Acked(string channel, int count) => _deliveries.Add(count, Tag("channel", channel), Tag("outcome", "acked"));

    public void Nacked(string channel, bool retry) => _deliveries.Add(1, Tag("channel", channel), Tag("outcome", retry ? "retry" : "rejected"));

    public void Published(string outcome, TimeSpan duration) => _publishDuration.Record(duration.TotalSeconds, Tag("outcome", outcome));

    public void EndToEnd(string channel, TimeSpan duration) => _endToEnd.Record(duration.TotalSeconds, Tag("channel", channel));

    /// <summary>The latest global numbers of a channel (refreshed by <see cref="QueueGaugeRefresher"/>).</summary>
    public void SetQueue(string channel, QueueGauges gauges) => _queues[channel] = gauges;

    public void ForgetQueuesExcept(IReadOnlySet<string> channels)
    {
        foreach (var name in _queues.Keys)
        {
            if (!channels.Contains(name))
            {
                _queues.TryRemove(name, out _);
            }
        }
    }

    public void ObserveConnectionsWith(Func<IEnumerable<(string Channel, string Protocol, int Count)>> connectionsByChannel) => _connectionsByChannel = connectionsByChannel;

    private IEnumerable<Measurement<long>> ObserveQueues()
    {
        foreach (var (channel, gauges) in _queues)
        {
            yield return new(gauges.Queued, Tag("channel", channel), Tag("state", "queued"));
            yield return new(gauges.InFlight, Tag("channel", channel), Tag("state", "in_flight"));
            yield return new(gauges.Delayed, Tag("channel", channel), Tag("state", "delayed"));
            yield return new(gauges.DeadLetters, Tag("channel", channel), Tag("state", "dead_letter"));
        }
    }

    private IEnumerable<Measurement<int>> ObserveConnections()
    {
        foreach (var (channel, protocol, count) in _connectionsByChannel())
        {
            yield return new(count, Tag("channel", channel), Tag("protocol", protocol));
        }
    }

    private static KeyValuePair<string, object?> Tag(string name, string value) => new(name, value);
}

public readonly record struct QueueGauges(long Queued, long InFlight, long Delayed, long DeadLetters);

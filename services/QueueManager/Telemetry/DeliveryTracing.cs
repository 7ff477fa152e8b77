using System.Diagnostics;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.QueueManager.Telemetry;

/// <summary>
/// The queue-manager's part of "one trace per webhook" (docs/observability.md): a <c>deliver {channel}</c> span
/// (Producer) per message sent down a Connect stream, child of the trace context ingress stored in the message, and
/// an <c>ack {channel}</c> / <c>nack {channel}</c> span (Internal) per settlement, child of that delivery span.
/// </summary>
/// <remarks>
/// Zero cost unless traces are exported: ServiceDefaults subscribes our activity sources only when an OTLP traces
/// endpoint is configured, so <see cref="Source"/> has no listener otherwise and every method here returns before
/// parsing, formatting or allocating anything. Callers keep span names per stream (<c>deliver {channel}</c> is formatted
/// once per stream, lazily).
/// </remarks>
public static class DeliveryTracing
{
    public static readonly ActivitySource Source = new(ServiceDefaults.Telemetry.ActivitySourceName("QueueManager"));

    public const string ChannelTag = "webhookconnect.channel";
    public const string MessageIdTag = "webhookconnect.message_id";
    public const string AttemptTag = "webhookconnect.attempt";
    public const string ConnectionIdTag = "webhookconnect.connection_id";
    public const string RetryTag = "webhookconnect.retry";
    public const string ReasonTag = "webhookconnect.reason";
    public const string TargetStatusCodeTag = "webhookconnect.target_status_code";

    /// <summary>True when someone records our spans (an OTLP traces exporter): the one check on the hot path.</summary>
    public static bool Enabled => Source.HasListeners();

    /// <summary>
    /// Starts the delivery span of <paramref name="message"/> (parent: the message's stored <c>traceparent</c>, or a
    /// new trace when it has none) and writes the span's own context into the message, so the connector's span (and,
    /// through it, the target) continues from the delivery. The stored envelope in Redis is not changed: a
    /// redelivery starts again from ingress' context. Leaves <see cref="Activity.Current"/> as it was.
    /// </summary>
    public static Activity? StartDelivery(string name, Message message, string connectionId)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        _ = ActivityContext.TryParse(message.Traceparent, message.Tracestate, isRemote: true, out var parent);
        var previous = Activity.Current;
        var activity = Source.StartActivity(name, ActivityKind.Producer, parent);
        Activity.Current = previous;
        if (activity is null)
        {
            return null;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag(ChannelTag, message.Channel);
            activity.SetTag(MessageIdTag, message.MessageId);
            activity.SetTag(AttemptTag, (long)message.Attempt);
            activity.SetTag(ConnectionIdTag, connectionId);
        }

        message.Traceparent = activity.Id ?? message.Traceparent;
        return activity;
    }

    /// <summary>Starts the span of one settlement (<c>ack {channel}</c> or <c>nack {channel}</c>), child of the
    /// delivery span whose context the stream kept with the lease. Null when the lease has no delivery span.</summary>
    public static Activity? StartSettlement(string name, ActivityContext delivery, string channel, string messageId, string connectionId)
    {
        if (delivery == default || !Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity(name, ActivityKind.Internal, delivery);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(ChannelTag, channel);
            activity.SetTag(MessageIdTag, messageId);
            activity.SetTag(ConnectionIdTag, connectionId);
        }

        return activity;
    }

    /// <summary>Adds what a nack said to its span.</summary>
    public static void DescribeNack(Activity activity, Nack nack)
    {
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(RetryTag, nack.Retry);
            activity.SetTag(ReasonTag, nack.Reason);
            if (nack.TargetStatusCode != 0)
            {
                activity.SetTag(TargetStatusCodeTag, (long)nack.TargetStatusCode);
            }
        }
    }

    /// <summary>Ends a span, marking it failed when <paramref name="failure"/> is set.</summary>
    public static void End(Activity? activity, Exception? failure = null)
    {
        if (activity is null)
        {
            return;
        }

        if (failure is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, failure.Message);
            activity.SetTag("error.type", failure.GetType().FullName);
        }

        activity.Stop();
    }
}

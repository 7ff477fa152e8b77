using System.Diagnostics;
using WebhookConnect.Connector.Delivery;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Telemetry;

/// <summary>
/// The connector's part of "one trace per webhook" (docs/observability.md): a <c>process {channel}</c> span
/// (Consumer) per delivery, child of the <c>traceparent</c> the message carried on the stream (queue-manager's
/// delivery span), around the target call (the HttpClient span is its child) and the ack or nack that follows.
/// </summary>
/// <remarks>
/// Traces cost nothing unless exported: ServiceDefaults subscribes our activity sources only when an OTLP traces
/// endpoint is configured (<see cref="Exported"/>), so <see cref="Source"/> then has no listener and
/// <see cref="Start"/> returns null before parsing or formatting anything.
/// </remarks>
public sealed class DeliveryTracing(bool exported)
{
    public static readonly ActivitySource Source = new(ServiceDefaults.Telemetry.ActivitySourceName("Connector"));

    /// <summary>
    /// True when traces are exported over OTLP (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or
    /// <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>). Then the target call is traced and the target receives the
    /// connector's POST span as <c>traceparent</c>; otherwise the target receives the message's own
    /// <c>traceparent</c> and the HTTP handler adds none (docs/connector.md, "Delivery").
    /// </summary>
    public bool Exported { get; } = exported;

    public static bool IsExported(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]) ||
        !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);

    /// <summary>Starts the delivery span of <paramref name="message"/> and makes it <see cref="Activity.Current"/> (for
    /// the caller's async flow only), so the target call's span is its child.</summary>
    public static Activity? Start(string name, Message message)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        _ = ActivityContext.TryParse(message.Traceparent, message.Tracestate, isRemote: true, out var parent);
        var activity = Source.StartActivity(name, ActivityKind.Consumer, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("webhookconnect.channel", message.Channel);
            activity.SetTag("webhookconnect.message_id", message.MessageId);
            activity.SetTag("webhookconnect.endpoint", message.EndpointId);
            activity.SetTag("webhookconnect.attempt", (long)message.Attempt);
        }

        return activity;
    }

    /// <summary>Records what became of the delivery: the outcome sent to queue-manager, the target's status, and
    /// for a nack its reason (the span is then an error).</summary>
    public static void Settled(Activity? activity, DeliveryResult result)
    {
        if (activity is not { IsAllDataRequested: true })
        {
            return;
        }

        activity.SetTag("webhookconnect.outcome", result.Label);
        if (result.StatusCode != 0)
        {
            activity.SetTag("http.response.status_code", (long)result.StatusCode);
        }

        if (result.Outcome != DeliveryOutcome.Acked)
        {
            activity.SetStatus(ActivityStatusCode.Error, result.Reason);
        }
    }
}

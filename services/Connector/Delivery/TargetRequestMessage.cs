namespace WebhookConnect.Connector.Delivery;

/// <summary>
/// A request to a target with what the handlers below <see cref="HttpClient"/> need to know about its delivery: the
/// target's per-attempt timeout (read by the pipeline's timeout strategy), the channel (the per-call metric) and the
/// delivery's own cancellation (so a cancelled delivery is not counted as a timed-out call). Fields of a subclass, not
/// <see cref="HttpRequestMessage.Options"/> entries: nothing to look up or allocate per message.
/// </summary>
public sealed class TargetRequestMessage(HttpMethod method, Uri url, string channel, TimeSpan timeout, CancellationToken deliveryCancellation)
    : HttpRequestMessage(method, url)
{
    public string Channel { get; } = channel;

    /// <summary>The target's <c>timeout</c>: each attempt's limit.</summary>
    public TimeSpan Timeout { get; } = timeout;

    /// <summary>Fires on shutdown or a lost stream; the call is then abandoned, not retried or measured.</summary>
    public CancellationToken DeliveryCancellation { get; } = deliveryCancellation;
}

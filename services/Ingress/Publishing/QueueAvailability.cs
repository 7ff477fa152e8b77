namespace WebhookConnect.Ingress.Publishing;

/// <summary>
/// Whether the queue is known to be unreachable. Set by a transient Publish failure; cleared when the spool replayer
/// gets a batch accepted. While it is set, webhooks go straight to the spool instead of each waiting for its own
/// Publish to fail (which can take up to <c>Ingress:PublishTimeout</c>), and the queue-manager is not hammered while
/// it recovers. The flag is only ever set together with a spool write, so the replayer always has a message with
/// which to find out that the queue is back.
/// </summary>
public sealed class QueueAvailability
{
    private int _down;

    public bool IsDown => Volatile.Read(ref _down) == 1;

    /// <returns>True when this call changed the state (for a log line per transition).</returns>
    public bool MarkDown() => Interlocked.Exchange(ref _down, 1) == 0;

    /// <inheritdoc cref="MarkDown"/>
    public bool MarkUp() => Interlocked.Exchange(ref _down, 0) == 1;
}

namespace WebhookConnect.Ingress.Publishing;

/// <summary>What became of one Publish, in ingress' terms (see <see cref="Errors"/> for how it is derived).</summary>
public enum QueueAnswerKind
{
    /// <summary>Queued now, or already queued under this message id (a retry): 200.</summary>
    Queued,

    /// <summary>The idempotency key was seen within the channel TTL: 200 with the original id and <c>duplicate</c>.</summary>
    Duplicate,

    /// <summary>The channel no longer exists: 404.</summary>
    NotFound,

    /// <summary>The body is over the channel's <c>max_message_bytes</c>: 413.</summary>
    TooLarge,

    /// <summary>The channel is full (<c>max_queue_size</c> messages or its byte budget <c>max_queue_bytes</c>): 503 with
    /// Retry-After.</summary>
    Full,

    /// <summary>The queue could not be reached or did not answer in time: spool and 202.</summary>
    Transient,

    /// <summary>A definitive refusal that is ingress' own fault (INVALID_ARGUMENT and the like): 500, logged.</summary>
    Failed,
}

/// <summary>The outcome of one Publish.</summary>
/// <param name="MessageId">The id the message is queued under (the original one for a duplicate).</param>
/// <param name="RetryAfter">For <see cref="QueueAnswerKind.Full"/>: the queue-manager's suggested delay.</param>
/// <param name="Detail">For failures: the gRPC status and message, for logs (never contains secrets or bodies).</param>
public readonly record struct QueueAnswer(QueueAnswerKind Kind, string MessageId, string Channel, TimeSpan RetryAfter = default, string? Detail = null);

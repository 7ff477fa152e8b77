using System.Globalization;
using Grpc.Core;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Publishing;

namespace WebhookConnect.Ingress;

/// <summary>
/// The one mapping from queue-manager answers (publish.proto) to ingress outcomes. Which HTTP answer each outcome
/// gets is in <see cref="Intake.WebhookResponses"/>.
/// </summary>
/// <remarks>
/// Transient, and therefore spooled: UNAVAILABLE (queue-manager or Redis down, connection refused or lost),
/// DEADLINE_EXCEEDED, CANCELLED, ABORTED, UNKNOWN, INTERNAL, a RESOURCE_EXHAUSTED without the <c>retry-after-ms</c>
/// trailer (a transport limit, not a full channel), and UNAUTHENTICATED / PERMISSION_DENIED (a token
/// misconfiguration an operator can fix: keeping the webhook is better than refusing it). Definitive: NOT_FOUND
/// (404), OUT_OF_RANGE (413), RESOURCE_EXHAUSTED with the trailer (503: the channel is at max_queue_size or over its
/// byte budget max_queue_bytes), INVALID_ARGUMENT and anything else (500).
/// </remarks>
public static class Errors
{
    public const string RetryAfterTrailer = "retry-after-ms";

    public static QueueAnswer FromOutcome(PublishOutcome outcome, string messageId, string channel) => outcome switch
    {
        PublishOutcome.Queued or PublishOutcome.AlreadyQueued => new(QueueAnswerKind.Queued, messageId, channel),
        PublishOutcome.Duplicate => new(QueueAnswerKind.Duplicate, messageId, channel),
        _ => new(QueueAnswerKind.Failed, messageId, channel, Detail: $"unexpected outcome {outcome}"),
    };

    public static QueueAnswer FromException(RpcException ex, Message message)
    {
        var retryAfterMs = ex.Trailers.GetValue(RetryAfterTrailer);
        TimeSpan? retryAfter = retryAfterMs is not null && long.TryParse(retryAfterMs, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            ? TimeSpan.FromMilliseconds(ms)
            : null;
        return FromStatus(ex.StatusCode, ex.Status.Detail, retryAfter, message);
    }

    /// <param name="retryAfter">Present exactly when the queue-manager said the channel is full.</param>
    public static QueueAnswer FromStatus(StatusCode code, string detail, TimeSpan? retryAfter, Message message)
    {
        var kind = code switch
        {
            StatusCode.NotFound => QueueAnswerKind.NotFound,
            StatusCode.OutOfRange => QueueAnswerKind.TooLarge,
            StatusCode.ResourceExhausted when retryAfter is not null => QueueAnswerKind.Full,
            StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled or StatusCode.Aborted
                or StatusCode.Unknown or StatusCode.Internal or StatusCode.ResourceExhausted
                or StatusCode.Unauthenticated or StatusCode.PermissionDenied => QueueAnswerKind.Transient,
            _ => QueueAnswerKind.Failed,
        };
        return new QueueAnswer(kind, message.MessageId, message.Channel, retryAfter ?? default, $"{code}: {detail}");
    }

    /// <summary>One result of a PublishBatch (error_code 0 means success). Per message, RESOURCE_EXHAUSTED always means
    /// a full channel (a transport limit fails the whole call).</summary>
    public static QueueAnswer FromBatchResult(PublishResult result, Message message)
    {
        if (result.ErrorCode == 0)
        {
            return FromOutcome(result.Outcome, result.MessageId.Length > 0 ? result.MessageId : message.MessageId, message.Channel);
        }

        var code = (StatusCode)result.ErrorCode;
        TimeSpan? retryAfter = code == StatusCode.ResourceExhausted ? result.RetryAfter?.ToTimeSpan() ?? TimeSpan.FromSeconds(1) : null;
        return FromStatus(code, result.ErrorMessage, retryAfter, message);
    }
}

using System.Globalization;
using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Telemetry;

namespace WebhookConnect.QueueManager.Publishing;

/// <summary>Publish and PublishBatch (publish.proto): validation, the queue write, and the mapping of its outcome
/// to the contract's statuses.</summary>
public sealed class Publisher(MessageQueue queue, QueueMetrics metrics, IOptions<QueueManagerOptions> options)
{
    public const int MaxBatch = 1000;
    public const string RetryAfterTrailer = "retry-after-ms";
    private const int MaxReplayKey = 128;
    private const long MaxReplayWindowSeconds = 30L * 24 * 3600;
    private static readonly TimeSpan MaxReplayWindow = TimeSpan.FromSeconds(MaxReplayWindowSeconds);

    public async Task<PublishResponse> PublishAsync(Message? message)
    {
        Validate(message);
        var result = await QueueAsync(message!);
        return Map(message!, result) is { } failure
            ? throw failure
            : new PublishResponse { Outcome = Outcome(result.Status), MessageId = result.MessageId, Channel = message!.Channel };
    }

    /// <summary>
    /// Every valid message of the batch is handed to the channel's group-commit queue at once, in batch order, so a
    /// batch costs a few script calls instead of one round trip per message, and per-channel order is the batch's.
    /// After a failure, later messages of the same channel report that failure (publish.proto): a full channel stays
    /// full within a script call, and where a later one was queued anyway, the client's retry finds ALREADY_QUEUED.
    /// </summary>
    public async Task<PublishBatchResponse> PublishBatchAsync(PublishBatchRequest request)
    {
        if (request.Messages.Count is 0 or > MaxBatch)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"messages: {request.Messages.Count} given, 1 to {MaxBatch} allowed"));
        }

        var count = request.Messages.Count;
        var invalid = new RpcException?[count];
        var queued = new Task<PublishDecision>?[count];
        var invalidChannels = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var message = request.Messages[i];
            try
            {
                // A message after an invalid one of its channel is not attempted, so the order stays the batch's.
                if (!invalidChannels.Contains(message.Channel))
                {
                    Validate(message);
                    queued[i] = QueueAsync(message);
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.InvalidArgument)
            {
                invalid[i] = ex;
                invalidChannels.Add(message.Channel);
            }
        }

        var response = new PublishBatchResponse();
        var failedChannels = new Dictionary<string, RpcException>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var message = request.Messages[i];
            var result = new PublishResult { MessageId = message.MessageId, Channel = message.Channel };
            PublishDecision? outcome = queued[i] is { } task ? await task : null;
            if (!failedChannels.TryGetValue(message.Channel, out var failure))
            {
                failure = invalid[i] ?? Map(message, outcome!.Value);
                if (failure is not null)
                {
                    failedChannels[message.Channel] = failure;
                }
            }

            if (failure is null)
            {
                result.Outcome = Outcome(outcome!.Value.Status);
                result.MessageId = outcome.Value.MessageId;
            }
            else
            {
                result.ErrorCode = (int)failure.StatusCode;
                result.ErrorMessage = failure.Status.Detail;
                if (failure.StatusCode == StatusCode.ResourceExhausted)
                {
                    result.RetryAfter = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(options.Value.QueueFullRetryAfter);
                }
            }

            response.Results.Add(result);
        }

        return response;
    }

    private async Task<PublishDecision> QueueAsync(Message message)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = await queue.PublishAsync(message);
        metrics.Published(OutcomeLabel(result.Status), System.Diagnostics.Stopwatch.GetElapsedTime(started));
        return result;
    }

    private static string OutcomeLabel(PublishStatus status) => status switch
    {
        PublishStatus.Queued => "queued",
        PublishStatus.AlreadyQueued => "already_queued",
        PublishStatus.Duplicate => "duplicate",
        PublishStatus.ChannelNotFound => "not_found",
        PublishStatus.TooLarge => "too_large",
        PublishStatus.OverBudget => "over_budget",
        _ => "full",
    };

    private static void Validate(Message? message)
    {
        if (message is null)
        {
            throw Invalid("message: required");
        }

        if (message.MessageId.Length is 0 or > 128 || message.MessageId.Any(c => c <= ' ' || c > '~'))
        {
            throw Invalid($"message.message_id = '{Shorten(message.MessageId)}': 1 to 128 printable ASCII characters without spaces");
        }

        if (!ChannelNames.IsValid(message.Channel))
        {
            throw Invalid($"message.channel = '{Shorten(message.Channel)}': must match {ChannelNames.Rule}");
        }

        if (!ChannelNames.IsValid(message.EndpointId))
        {
            throw Invalid($"message.endpoint_id = '{Shorten(message.EndpointId)}': must match {ChannelNames.Rule}");
        }

        if (message.ReceivedAt is null)
        {
            throw Invalid("message.received_at: required (when ingress received the request)");
        }

        // The range protobuf's Timestamp allows (years 0001 to 9999); outside it the conversion would throw.
        if (message.ReceivedAt.Seconds is < -62135596800 or > 253402300799 || message.ReceivedAt.Nanos is < 0 or > 999_999_999)
        {
            throw Invalid($"message.received_at = {message.ReceivedAt.Seconds}s {message.ReceivedAt.Nanos}ns: not a valid timestamp");
        }

        if (message.IdempotencyKey.Length > 512)
        {
            throw Invalid($"message.idempotency_key: {message.IdempotencyKey.Length} characters, at most 512");
        }

        if (message.ReplayKey.Length > 0)
        {
            // It becomes part of a Redis key name (wc:{channel}:replay:<key>).
            if (message.ReplayKey.Length > MaxReplayKey || message.ReplayKey.Any(c => c <= ' ' || c > '~'))
            {
                throw Invalid($"message.replay_key = '{Shorten(message.ReplayKey)}': 1 to {MaxReplayKey} printable ASCII characters without spaces");
            }

            var window = message.ReplayWindow is { Seconds: >= 0 and <= MaxReplayWindowSeconds, Nanos: >= 0 and <= 999_999_999 } given ? given.ToTimeSpan() : TimeSpan.Zero;
            if (window <= TimeSpan.Zero || window > MaxReplayWindow)
            {
                throw Invalid($"message.replay_window = {Describe(message.ReplayWindow)}: with a replay_key it must be 1 ms to 30 days");
            }
        }
    }

    private RpcException? Map(Message message, PublishDecision result) => result.Status switch
    {
        PublishStatus.ChannelNotFound => new RpcException(new Status(StatusCode.NotFound, $"channel '{message.Channel}' does not exist")),
        PublishStatus.TooLarge => new RpcException(new Status(
            StatusCode.OutOfRange,
            $"body of {message.Body.Length} bytes is larger than channel '{message.Channel}' allows (max_message_bytes = {result.Limit})")),
        PublishStatus.Full => new RpcException(
            new Status(StatusCode.ResourceExhausted, $"channel '{message.Channel}' is full: {result.Limit} messages waiting or in flight (max_queue_size); retry later"),
            RetryAfter()),
        PublishStatus.OverBudget => new RpcException(
            new Status(
                StatusCode.ResourceExhausted,
                $"channel '{message.Channel}' is over its byte budget: it holds {result.Held} bytes and a message of {message.CalculateSize()} bytes would exceed max_queue_bytes = {result.Limit}; retry later"),
            RetryAfter()),
        _ => null,
    };

    private Metadata RetryAfter() =>
        new() { { RetryAfterTrailer, ((long)options.Value.QueueFullRetryAfter.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) } };

    private static PublishOutcome Outcome(PublishStatus status) => status switch
    {
        PublishStatus.Queued => PublishOutcome.Queued,
        PublishStatus.AlreadyQueued => PublishOutcome.AlreadyQueued,
        _ => PublishOutcome.Duplicate,
    };

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static string Describe(Google.Protobuf.WellKnownTypes.Duration? duration) =>
        duration is null ? "(absent)" : $"{duration.Seconds}s {duration.Nanos}ns";

    private static string Shorten(string text) => text.Length > 80 ? text[..80] + "…" : text;
}

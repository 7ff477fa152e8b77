using Grpc.Core;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Publishing;
using WebhookConnect.Ingress.Telemetry;

namespace WebhookConnect.Ingress.Spool;

/// <summary>
/// Re-publishes spooled messages in spool order with PublishBatch, retrying with exponential backoff and jitter
/// (Polly; <c>Ingress:SpoolReplayInitialDelay</c> doubling to <c>SpoolReplayMaxDelay</c>, for ever) until the queue
/// accepts them. Only the messages of a batch that failed transiently (or met a full channel) are sent again, in
/// order; Publish is idempotent by message id, so a batch that half-succeeded before its answer was lost is safe to
/// resend. A message the queue refuses for good (its channel was deleted, it is too large for it now) cannot be
/// answered any more, since its sender already got 202: it is logged with its id and counted as dropped.
/// </summary>
public sealed partial class SpoolReplayer(
    SpoolFile spool, QueueManagerClient queue, QueueAvailability availability, IngressMetrics metrics, IOptions<IngressOptions> options, ILogger<SpoolReplayer> logger) : BackgroundService
{
    private const int BatchCount = 500;
    private const long BatchBytes = 4 * 1024 * 1024;

    private readonly ResiliencePipeline _retry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<ReplayIncompleteException>(),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = options.Value.SpoolReplayInitialDelay,
            MaxDelay = options.Value.SpoolReplayMaxDelay,
            // A full channel names its own delay; never retry sooner than that.
            DelayGenerator = static args => ValueTask.FromResult<TimeSpan?>(
                args.Outcome.Exception is ReplayIncompleteException { RetryAfter: var hint } && hint > TimeSpan.Zero ? hint : null),
            OnRetry = args =>
            {
                if (args.Outcome.Exception is ReplayIncompleteException incomplete)
                {
                    LogRetrying(logger, incomplete.Remaining, incomplete.Message, args.RetryDelay.TotalMilliseconds);
                }

                return ValueTask.CompletedTask;
            },
        })
        .Build();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var offset = spool.ReplayStart;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await spool.WaitForRecordsAsync(offset, stoppingToken);
                var batch = spool.Read(offset, BatchCount, BatchBytes, out var end);
                if (batch.Count > 0)
                {
                    var remaining = new List<Message>(batch);
                    await _retry.ExecuteAsync(token => new ValueTask(ReplayAsync(remaining, token)), stoppingToken);
                }

                offset = await spool.ReplayedAsync(end, batch.Count);
                if (batch.Count > 0)
                {
                    LogReplayed(logger, batch.Count);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Sends the messages once and removes the settled ones from the list; throws when some are left.</summary>
    private async Task ReplayAsync(List<Message> messages, CancellationToken cancellationToken)
    {
        var request = new PublishBatchRequest();
        request.Messages.AddRange(messages);
        PublishBatchResponse response;
        try
        {
            response = await queue.Client.PublishBatchAsync(request, queue.Unary(cancellationToken));
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ReplayIncompleteException(messages.Count, TimeSpan.Zero, ex.Status.ToString());
        }

        // The queue answered: webhooks may go to it directly again (the rest of the spool drains behind them).
        if (availability.MarkUp())
        {
            LogQueueBack(logger);
        }

        var again = new List<Message>();
        var retryAfter = TimeSpan.Zero;
        string? reason = null;
        for (var i = 0; i < messages.Count; i++)
        {
            var answer = i < response.Results.Count
                ? Errors.FromBatchResult(response.Results[i], messages[i])
                : Errors.FromStatus(StatusCode.Internal, "missing result", null, messages[i]);
            switch (answer.Kind)
            {
                case QueueAnswerKind.Queued or QueueAnswerKind.Duplicate:
                    metrics.Replayed();
                    break;
                case QueueAnswerKind.Full or QueueAnswerKind.Transient:
                    again.Add(messages[i]);
                    retryAfter = answer.RetryAfter > retryAfter ? answer.RetryAfter : retryAfter;
                    reason ??= answer.Detail;
                    break;
                default:
                    metrics.Dropped();
                    LogDropped(logger, messages[i].MessageId, messages[i].Channel, answer.Detail ?? answer.Kind.ToString());
                    break;
            }
        }

        messages.Clear();
        messages.AddRange(again);
        if (again.Count > 0)
        {
            throw new ReplayIncompleteException(again.Count, retryAfter, reason ?? "");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "the queue is reachable again; webhooks are published directly")]
    private static partial void LogQueueBack(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "spool: replayed {Count} messages into the queue")]
    private static partial void LogReplayed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "spool: {Count} messages not accepted yet ({Reason}); retrying in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, int count, string reason, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "spool: message {MessageId} for channel '{Channel}' was refused for good and dropped: {Reason}")]
    private static partial void LogDropped(ILogger logger, string messageId, string channel, string reason);

    private sealed class ReplayIncompleteException(int remaining, TimeSpan retryAfter, string reason) : Exception(reason)
    {
        public int Remaining { get; } = remaining;

        public TimeSpan RetryAfter { get; } = retryAfter;
    }
}

using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Telemetry;

namespace WebhookConnect.Ingress.Publishing;

/// <summary>
/// Coalesces concurrent requests into PublishBatch calls (<c>Ingress:PublishBatching</c>, on by default). Requests
/// wait in a bounded channel; one loop takes whatever is waiting (up to <c>PublishBatchSize</c>) as soon as one of
/// <c>PublishConcurrency</c> call slots is free. Nobody waits for a batch to fill: a lone request goes out alone at
/// once, and under load the batches grow while the previous calls are in flight.
/// </summary>
/// <remarks>
/// PublishBatch stops at the first failure of a channel and gives later messages of that channel the same error
/// (publish.proto). For a full or deleted channel that error is theirs too; an OUT_OF_RANGE or INVALID_ARGUMENT,
/// however, belongs to the one message that caused it, so the others are published again one by one.
/// <para>Traces (docs/observability.md, "One trace per webhook"): the calls are made by the loop, not by the requests,
/// so each request's span (<see cref="Activity.Current"/> when it asks to publish) travels with it. A message published
/// alone, or again alone, is published under its request's span; a batch call runs under a <c>publish batch</c> span
/// (only while traces are exported) whose parent is the first message's span and which links every message's span.
/// The loop itself runs without an ambient span, so no call is ever attributed to a request that happened to create
/// it.</para>
/// </remarks>
public sealed partial class BatchingPublisher : IQueuePublisher, IAsyncDisposable
{
    private readonly QueueManagerClient _queue;
    private readonly UnaryPublisher _single;
    private readonly ILogger<BatchingPublisher> _logger;
    private readonly Channel<Pending> _pending;
    private readonly SemaphoreSlim _slots;
    private readonly int _batchSize;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;

    public BatchingPublisher(QueueManagerClient queue, IOptions<IngressOptions> options, ILogger<BatchingPublisher> logger)
    {
        _queue = queue;
        _single = new UnaryPublisher(queue);
        _logger = logger;
        _batchSize = options.Value.PublishBatchSize;
        _slots = new SemaphoreSlim(options.Value.PublishConcurrency);
        _pending = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(1024, _batchSize * options.Value.PublishConcurrency * 4))
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        // Not in the context of whoever resolved this singleton (a request whose span would then parent every call).
        using (ExecutionContext.SuppressFlow())
        {
            _loop = Task.Run(() => RunAsync(_stopping.Token));
        }
    }

    public async Task<QueueAnswer> PublishAsync(Message message)
    {
        var pending = new Pending(message, Activity.Current);
        await _pending.Writer.WriteAsync(pending);
        return await pending.Answer.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _stopping.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        // Whatever was still waiting is answered as transient, so its request spools it rather than hangs.
        while (_pending.Reader.TryRead(out var left))
        {
            left.Answer.TrySetResult(Errors.FromStatus(StatusCode.Unavailable, "ingress is stopping", null, left.Message));
        }

        _stopping.Dispose();
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        var reader = _pending.Reader;
        while (await reader.WaitToReadAsync(stopping))
        {
            await _slots.WaitAsync(stopping);
            var batch = new List<Pending>(Math.Min(_batchSize, reader.CanCount ? Math.Max(1, reader.Count) : 16));
            while (batch.Count < _batchSize && reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            if (batch.Count == 0)
            {
                _slots.Release();
                continue;
            }

            _ = SendAsync(batch);
        }
    }

    private async Task SendAsync(List<Pending> batch)
    {
        try
        {
            if (batch.Count == 1)
            {
                Continue(batch[0]);
                batch[0].Answer.TrySetResult(await _single.PublishAsync(batch[0].Message));
                return;
            }

            using var span = StartBatchSpan(batch);

            var request = new PublishBatchRequest();
            foreach (var pending in batch)
            {
                request.Messages.Add(pending.Message);
            }

            PublishBatchResponse response;
            try
            {
                response = await _queue.Client.PublishBatchAsync(request, _queue.Unary());
            }
            catch (RpcException ex)
            {
                foreach (var pending in batch)
                {
                    pending.Answer.TrySetResult(Errors.FromException(ex, pending.Message));
                }

                return;
            }

            if (response.Results.Count != batch.Count)
            {
                LogMismatch(_logger, batch.Count, response.Results.Count);
                foreach (var pending in batch)
                {
                    pending.Answer.TrySetResult(Errors.FromStatus(StatusCode.Internal, "PublishBatch answered a different count", null, pending.Message));
                }

                return;
            }

            HashSet<string>? failedChannels = null;
            List<Task>? retries = null;
            for (var i = 0; i < batch.Count; i++)
            {
                var pending = batch[i];
                var result = response.Results[i];
                if (result.ErrorCode != 0)
                {
                    failedChannels ??= new HashSet<string>(StringComparer.Ordinal);
                    var first = failedChannels.Add(pending.Message.Channel);
                    var code = (StatusCode)result.ErrorCode;
                    if (!first && code is StatusCode.OutOfRange or StatusCode.InvalidArgument)
                    {
                        (retries ??= []).Add(RetryAloneAsync(pending));
                        continue;
                    }
                }

                pending.Answer.TrySetResult(Errors.FromBatchResult(result, pending.Message));
            }

            if (retries is not null)
            {
                await Task.WhenAll(retries);
            }
        }
        catch (Exception ex)
        {
            LogBatchFailed(_logger, ex);
            foreach (var pending in batch)
            {
                pending.Answer.TrySetResult(Errors.FromStatus(StatusCode.Internal, ex.Message, null, pending.Message));
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task RetryAloneAsync(Pending pending)
    {
        Continue(pending);
        pending.Answer.TrySetResult(await _single.PublishAsync(pending.Message));
    }

    /// <summary>Makes the request's span the ambient one of the calling async method (its caller's context is
    /// untouched), so the Publish call joins the webhook's trace. Only while traced: setting an async-local allocates,
    /// and without an exporter nobody records the call's spans.</summary>
    private static void Continue(Pending pending)
    {
        if (IngressMetrics.Source.HasListeners())
        {
            Activity.Current = pending.Caller;
        }
    }

    /// <summary>A span for one PublishBatch call, child of the first message's request span and linked to every
    /// message's (a span has one parent; the links let each webhook's trace find the call). Null unless traced.</summary>
    private static Activity? StartBatchSpan(List<Pending> batch)
    {
        if (!IngressMetrics.Source.HasListeners())
        {
            return null;
        }

        var links = new List<ActivityLink>(batch.Count);
        foreach (var pending in batch)
        {
            if (pending.Caller is { } caller)
            {
                links.Add(new ActivityLink(caller.Context));
            }
        }

        var span = IngressMetrics.Source.StartActivity("publish batch", ActivityKind.Internal, batch[0].Caller?.Context ?? default, links: links);
        span?.SetTag("webhookconnect.batch_size", (long)batch.Count);
        return span;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "PublishBatch answered {Results} results for {Messages} messages")]
    private static partial void LogMismatch(ILogger logger, int messages, int results);

    [LoggerMessage(Level = LogLevel.Error, Message = "a PublishBatch call failed unexpectedly")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception);

    private sealed class Pending(Message message, Activity? caller)
    {
        public Message Message { get; } = message;

        /// <summary>The requesting span (ingress' <c>publish webhook</c>, or its server span when not exported).</summary>
        public Activity? Caller { get; } = caller;

        public TaskCompletionSource<QueueAnswer> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

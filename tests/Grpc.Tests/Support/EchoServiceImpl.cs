using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests.Support;

/// <summary>
/// The test service, implemented as echo.proto's comments define it (the grpc-js interop client relies on that),
/// recording what handlers observe. A few request texts steer test-only behaviour:
/// <c>encoding</c> answers the request's <c>grpc-encoding</c>, <c>trace</c> the handler's trace id, <c>throw</c>
/// throws a plain exception, <c>bare</c> answers only <c>response_payload_bytes</c> (an exactly sized response),
/// and <c>hold</c> waits until <see cref="ReleaseHeldCalls"/>.
/// </summary>
public sealed class EchoServiceImpl : EchoService.EchoServiceBase
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _cancelledByClient;
    private int _deadlineExceeded;
    private int _echoCalls;
    private int _active;
    private int _maxActive;

    /// <summary>HTTP/2 connection ids of every call, to see how calls spread over connections.</summary>
    public ConcurrentDictionary<string, int> ConnectionIds { get; } = new();

    public int CancelledByClient => Volatile.Read(ref _cancelledByClient);

    public int DeadlineExceededCount => Volatile.Read(ref _deadlineExceeded);

    /// <summary>How many times the Echo handler ran (a message that never reached it is not counted).</summary>
    public int EchoCalls => Volatile.Read(ref _echoCalls);

    public int ActiveCalls => Volatile.Read(ref _active);

    public int MaxConcurrentCalls => Volatile.Read(ref _maxActive);

    public void ReleaseHeldCalls() => _release.TrySetResult();

    public override async Task<EchoResponse> Echo(EchoRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref _echoCalls);
        using var _ = Track(context);
        switch (request.Text)
        {
            case "encoding":
                // grpc-encoding is protocol-owned, so it is read from the HTTP request rather than the metadata.
                return new EchoResponse { Text = context.GetHttpContext().Request.Headers["grpc-encoding"].ToString() };
            case "trace":
                return new EchoResponse { Text = System.Diagnostics.Activity.Current?.TraceId.ToHexString() ?? "none" };
            case "throw":
                throw new InvalidOperationException("boom from the handler, with a secret detail");
            case "bare":
                return new EchoResponse { Payload = ByteString.CopyFrom(Pattern(request.ResponsePayloadBytes)) };
            case "hold":
                await _release.Task.WaitAsync(context.CancellationToken);
                break;
        }

        Fail(request);
        await DelayAsync(request.DelayMs, context);
        return Respond(request, context, 0);
    }

    public override async Task<CollectResponse> Collect(IAsyncStreamReader<EchoRequest> requestStream, ServerCallContext context)
    {
        using var _ = Track(context);
        var response = new CollectResponse();
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            Fail(request);
            response.Count++;
            response.TotalPayloadBytes += request.Payload.Length;
            response.Texts.Add(request.Text);
        }

        return response;
    }

    public override async Task Repeat(RepeatRequest request, IServerStreamWriter<EchoResponse> responseStream, ServerCallContext context)
    {
        using var _ = Track(context);
        for (var i = 1; i <= request.Count; i++)
        {
            if (i > 1)
            {
                await DelayAsync(request.IntervalMs, context);
            }

            await responseStream.WriteAsync(new EchoResponse
            {
                Text = $"{request.Text}-{i}",
                Sequence = i,
                Payload = request.PayloadBytes > 0 ? ByteString.CopyFrom(Pattern(request.PayloadBytes)) : ByteString.Empty,
            });
        }
    }

    public override async Task Chat(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoResponse> responseStream, ServerCallContext context)
    {
        using var _ = Track(context);
        var sequence = 0;
        try
        {
            while (await requestStream.MoveNext(context.CancellationToken))
            {
                var request = requestStream.Current;
                Fail(request);
                await DelayAsync(request.DelayMs, context);
                await responseStream.WriteAsync(Respond(request, context, ++sequence));
            }
        }
        catch (Exception) when (context.CancellationToken.IsCancellationRequested)
        {
            // A read or a write (blocked by flow control) that fails because the client reset the stream.
            Count(context);
            throw;
        }
    }

    public override Task<GetObservationsResponse> GetObservations(GetObservationsRequest request, ServerCallContext context) =>
        Task.FromResult(new GetObservationsResponse { CancelledByClient = CancelledByClient, DeadlineExceeded = DeadlineExceededCount });

    public static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)(i % 251);
        }

        return bytes;
    }

    private static void Fail(EchoRequest request)
    {
        if (request.FailWithCode != 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailWithCode, request.FailMessage));
        }
    }

    private static EchoResponse Respond(EchoRequest request, ServerCallContext context, int sequence)
    {
        var response = new EchoResponse
        {
            Text = request.Text,
            Payload = request.ResponsePayloadBytes > 0 ? ByteString.CopyFrom(Pattern(request.ResponsePayloadBytes)) : request.Payload,
            DeadlineRemainingMs = context.Deadline == DateTime.MaxValue ? -1 : (long)(context.Deadline - DateTime.UtcNow).TotalMilliseconds,
            Sequence = sequence,
            AnsweredAt = Timestamp.FromDateTime(DateTime.UtcNow),
        };
        foreach (var entry in context.RequestHeaders)
        {
            if (entry.Key.StartsWith("x-", StringComparison.Ordinal))
            {
                response.RequestMetadata[entry.Key] = entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value;
            }
        }

        return response;
    }

    private async Task DelayAsync(int delayMs, ServerCallContext context)
    {
        if (delayMs <= 0)
        {
            return;
        }

        try
        {
            await Task.Delay(delayMs, context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            Count(context);
            throw;
        }
    }

    private void Count(ServerCallContext context)
    {
        if (context.Deadline != DateTime.MaxValue && DateTime.UtcNow >= context.Deadline.AddMilliseconds(-50))
        {
            Interlocked.Increment(ref _deadlineExceeded);
        }
        else
        {
            Interlocked.Increment(ref _cancelledByClient);
        }
    }

    private ActiveCall Track(ServerCallContext context)
    {
        ConnectionIds.TryAdd(context.GetHttpContext().Connection.Id, 0);
        var active = Interlocked.Increment(ref _active);
        int max;
        while (active > (max = Volatile.Read(ref _maxActive)) && Interlocked.CompareExchange(ref _maxActive, active, max) != max)
        {
        }

        return new ActiveCall(this);
    }

    private readonly struct ActiveCall(EchoServiceImpl owner) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref owner._active);
    }
}

using System.Threading.Channels;
using Grpc.Core;
using Grpc.Net.Client;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.TestKit.Services;

/// <summary>A minimal connector for tests: opens a Connect stream, collects deliveries, answers pings, and acks or
/// nacks on demand. Every wait has a deadline.</summary>
public sealed class TestConnector : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<ConnectRequest, ConnectResponse> _call;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Channel<Delivery> _deliveries = Channel.CreateUnbounded<Delivery>();
    private readonly TaskCompletionSource<Subscribed> _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Status> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _cancel = new();

    private TestConnector(AsyncDuplexStreamingCall<ConnectRequest, ConnectResponse> call)
    {
        _call = call;
        _ = Task.Run(ReadAsync);
    }

    public Subscribed Subscribed => _subscribed.Task.Result;

    /// <summary>The call's final status (OK when the server completed it normally).</summary>
    public Task<Status> Ended => _ended.Task;

    public Draining? Draining { get; private set; }

    public int PingsAnswered;

    public bool AnswerPings { get; set; } = true;

    /// <summary>Opens a stream and waits for Subscribed; throws RpcException when the server refuses.</summary>
    public static async Task<TestConnector> ConnectAsync(GrpcChannel channel, string channelName, string? token, uint maxInFlight = 0, string connectorId = "test")
    {
        var connector = Open(channel, token);
        try
        {
            await connector.SendAsync(new ConnectRequest { Subscribe = new Subscribe { Channel = channelName, MaxInFlight = maxInFlight, ConnectorId = connectorId } });
        }
        catch (RpcException)
        {
            // Refused before the Subscribe was written: the write carries the call's status.
            await connector.DisposeAsync();
            throw;
        }

        var first = await Task.WhenAny(connector._subscribed.Task, connector._ended.Task).WaitAsync(QueueManagerProcess.Patience);
        if (first == connector._ended.Task)
        {
            var status = await connector._ended.Task;
            await connector.DisposeAsync();
            throw new RpcException(status);
        }

        return connector;
    }

    /// <summary>Opens a stream, sends <paramref name="first"/>, and returns the status the server ends it with.</summary>
    public static async Task<Status> RefusedAsync(GrpcChannel channel, string? token, ConnectRequest first)
    {
        await using var connector = Open(channel, token);
        try
        {
            await connector.SendAsync(first);
        }
        catch (RpcException refusedBeforeTheWrite)
        {
            // The server may end the call (e.g. Unauthenticated at the headers) before the first message is written;
            // the write then fails with the call's status, which is the answer we wait for.
            return refusedBeforeTheWrite.Status;
        }

        return await connector._ended.Task.WaitAsync(QueueManagerProcess.Patience);
    }

    private static TestConnector Open(GrpcChannel channel, string? token)
    {
        var headers = new Metadata();
        if (token is not null)
        {
            headers.Add("authorization", "Bearer " + token);
        }

        return new TestConnector(new ConnectService.ConnectServiceClient(channel).Connect(headers));
    }

    public async Task<Delivery> NextAsync(TimeSpan? timeout = null) =>
        await _deliveries.Reader.ReadAsync().AsTask().WaitAsync(timeout ?? QueueManagerProcess.Patience);

    public async Task<List<Delivery>> TakeAsync(int count, TimeSpan? timeout = null)
    {
        var list = new List<Delivery>(count);
        using var deadline = new CancellationTokenSource(timeout ?? QueueManagerProcess.Patience);
        while (list.Count < count)
        {
            try
            {
                list.Add(await _deliveries.Reader.ReadAsync(deadline.Token));
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"received {list.Count} of {count} deliveries before the deadline");
            }
        }

        return list;
    }

    /// <summary>True when no delivery arrives within <paramref name="window"/> while the stream stays open (used only
    /// to assert absence, after the thing that would cause a delivery has been confirmed to have happened). A stream
    /// that ends meanwhile is a failure, not an absence of deliveries.</summary>
    public async Task<bool> NothingWithinAsync(TimeSpan window)
    {
        using var cts = new CancellationTokenSource(window);
        var delivery = _deliveries.Reader.WaitToReadAsync(cts.Token).AsTask();
        try
        {
            var first = await Task.WhenAny(delivery, _ended.Task);
            if (first == _ended.Task)
            {
                throw new InvalidOperationException($"the stream ended ({_ended.Task.Result}) while waiting for no delivery");
            }

            await delivery;
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    public int Pending => _deliveries.Reader.Count;

    public Task AckAsync(params string[] ids)
    {
        var ack = new Ack();
        ack.MessageIds.Add(ids);
        return SendAsync(new ConnectRequest { Ack = ack });
    }

    public Task NackAsync(string id, bool retry, string reason = "failed", uint status = 500) =>
        SendAsync(new ConnectRequest { Nack = new Nack { MessageId = id, Retry = retry, Reason = reason, TargetStatusCode = status } });

    public Task StopDeliveriesAsync() => SendAsync(new ConnectRequest { StopDeliveries = new StopDeliveries() });

    /// <summary>Half-closes the request stream: a clean end.</summary>
    public async Task CompleteAsync()
    {
        await _writeLock.WaitAsync();
        try
        {
            await _call.RequestStream.CompleteAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task SendAsync(ConnectRequest request)
    {
        await _writeLock.WaitAsync();
        try
        {
            await _call.RequestStream.WriteAsync(request);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            while (await _call.ResponseStream.MoveNext(_cancel.Token))
            {
                var response = _call.ResponseStream.Current;
                switch (response.FrameCase)
                {
                    case ConnectResponse.FrameOneofCase.Subscribed:
                        _subscribed.TrySetResult(response.Subscribed);
                        break;
                    case ConnectResponse.FrameOneofCase.Delivery:
                        _deliveries.Writer.TryWrite(response.Delivery);
                        break;
                    case ConnectResponse.FrameOneofCase.Ping when AnswerPings:
                        await SendAsync(new ConnectRequest { Pong = new Pong { Nonce = response.Ping.Nonce } });
                        Interlocked.Increment(ref PingsAnswered);
                        break;
                    case ConnectResponse.FrameOneofCase.Draining:
                        Draining = response.Draining;
                        break;
                }
            }

            _ended.TrySetResult(Status.DefaultSuccess);
        }
        catch (RpcException ex)
        {
            _ended.TrySetResult(ex.Status);
        }
        catch (Exception ex)
        {
            _ended.TrySetResult(new Status(StatusCode.Internal, "test connector: " + ex.Message));
        }
    }

    /// <summary>Cancels the call (an abrupt close, as when a connector dies).</summary>
    public void Abort() => _cancel.Cancel();

    public async ValueTask DisposeAsync()
    {
        await _cancel.CancelAsync();
        _call.Dispose();
        await Task.WhenAny(_ended.Task, Task.Delay(TimeSpan.FromSeconds(5)));
        _cancel.Dispose();
    }
}

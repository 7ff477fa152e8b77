using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Grpc.Core;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Protocols;

/// <summary>
/// The long-poll connector protocol (issue 16: <c>GET /connect/stream/{channel}/poll?timeout=30&amp;max_messages=N</c>)
/// as an <see cref="IConnectCall"/>: one poll at a time, each asking for at most the free credit (max_in_flight minus
/// the messages not yet settled, at most 100); 200 carries messages, 204 means none within the timeout. Each message is
/// settled with <c>POST /connect/ack</c> under the connection id of the poll that brought it (queue-manager leases a
/// polled message to that poll's connection id until ack, nack or ack_timeout).
/// </summary>
/// <remarks>
/// The first answered poll (a short one, 1 s) stands for <c>Subscribed</c> (the stream is up). After the drain starts no new poll is made;
/// the call ends when the connector completes it.
/// </remarks>
public sealed class LongPollConnectCall : IConnectCall, IAsyncStreamReader<ConnectResponse>
{
    /// <summary>Seconds a poll waits for a message (the protocol allows 1–60).</summary>
    public const int PollSeconds = 30;

    /// <summary>The protocol's largest <c>max_messages</c>.</summary>
    public const int MaxMessagesPerPoll = 100;

    private readonly Http1Endpoint _endpoint;
    private readonly string _channel;
    private readonly string _token;
    private readonly string _connectorId;
    private readonly CancellationToken _cancel;
    private readonly HttpAcks _acks;
    private readonly Queue<ConnectResponse> _ready = new();
    private readonly Dictionary<string, string> _leases = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _creditFreed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _subscribedRequest = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private uint _maxInFlight = 100;
    private bool _subscribed;

    public LongPollConnectCall(Http1Endpoint endpoint, string channel, string token, string connectorId, CancellationToken cancel, ILogger? logger = null)
    {
        _endpoint = endpoint;
        _channel = channel;
        _token = token;
        _connectorId = connectorId;
        _cancel = cancel;
        _acks = new HttpAcks(endpoint, token, logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
    }

    public string Protocol => ConnectProtocols.LongPoll;

    public IAsyncStreamReader<ConnectResponse> ResponseStream => this;

    public ConnectResponse Current { get; private set; } = null!;

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        // The Subscribe frame carries max_in_flight; it is the first frame the writer sends.
        await _subscribedRequest.Task.WaitAsync(_cancel);
        while (true)
        {
            if (_ready.TryDequeue(out var next))
            {
                Current = next;
                return true;
            }

            if (_stop.IsCancellationRequested)
            {
                // Drained: the call ends when the connector completes it (or gives up on it).
                try
                {
                    await _done.Task.WaitAsync(_cancel);
                }
                catch (OperationCanceledException)
                {
                }

                return false;
            }

            var credit = await WaitForCreditAsync();
            if (credit == 0)
            {
                continue;
            }

            await PollAsync(credit);
        }
    }

    private async Task<int> WaitForCreditAsync()
    {
        while (true)
        {
            Task freed;
            lock (_gate)
            {
                var free = (int)_maxInFlight - _leases.Count;
                if (free > 0)
                {
                    return Math.Min(free, MaxMessagesPerPoll);
                }

                freed = _creditFreed.Task;
            }

            using var both = CancellationTokenSource.CreateLinkedTokenSource(_cancel, _stop.Token);
            try
            {
                await freed.WaitAsync(both.Token);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested && !_cancel.IsCancellationRequested)
            {
                return 0;
            }
        }
    }

    private async Task PollAsync(int maxMessages)
    {
        // The first poll is short: its answer (200 or 204) is what shows the token and channel are good, and the stream
        // counts as subscribed (readiness) from then on, not after a whole poll timeout.
        var seconds = _subscribed ? PollSeconds : 1;
        var path = $"connect/stream/{Uri.EscapeDataString(_channel)}/poll?timeout={seconds.ToString(CultureInfo.InvariantCulture)}&max_messages={maxMessages.ToString(CultureInfo.InvariantCulture)}";
        using var request = new HttpRequestMessage(HttpMethod.Get, _endpoint.Path(path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        if (_connectorId.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("X-Connector-ID", _connectorId);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_cancel, _stop.Token);
        deadline.CancelAfter(TimeSpan.FromSeconds(seconds + 15));
        HttpResponseMessage response;
        byte[] body;
        try
        {
            response = await _endpoint.Http.SendAsync(request, deadline.Token);
            body = await response.Content.ReadAsByteArrayAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested && !_cancel.IsCancellationRequested)
        {
            return; // The drain started while the poll waited.
        }
        catch (OperationCanceledException) when (!_cancel.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"poll got no answer within {seconds + 15} s"));
        }
        catch (HttpRequestException ex)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "poll failed: " + ex.Message, ex));
        }

        using (response)
        {
            if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.NoContent))
            {
                var text = System.Text.Encoding.UTF8.GetString(body);
                throw Http1Status.FromHttp(response.StatusCode, text.Length > 300 ? text[..300] : text);
            }

            if (!_subscribed)
            {
                _subscribed = true;
                _ready.Enqueue(new ConnectResponse { Subscribed = new Subscribed { MaxInFlight = _maxInFlight } });
            }

            if (response.StatusCode == HttpStatusCode.NoContent)
            {
                return;
            }

            using var document = Http1Messages.Parse(body, out _);
            var root = document.RootElement;
            var connectionId = Http1Messages.Text(root, "connection_id") ?? "";
            if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in messages.EnumerateArray())
                {
                    var message = Http1Messages.Webhook(item, _channel);
                    lock (_gate)
                    {
                        _leases[message.MessageId] = connectionId;
                    }

                    _ready.Enqueue(new ConnectResponse { Delivery = new Contracts.V1.Delivery { Message = message } });
                }
            }
        }
    }

    public async Task WriteAsync(ConnectRequest frame, bool more)
    {
        switch (frame.FrameCase)
        {
            case ConnectRequest.FrameOneofCase.Subscribe:
                if (frame.Subscribe.MaxInFlight > 0)
                {
                    _maxInFlight = frame.Subscribe.MaxInFlight;
                }

                _subscribedRequest.TrySetResult();
                break;
            case ConnectRequest.FrameOneofCase.Ack:
                await _acks.AckAsync(frame.Ack.MessageIds.Select(id => (id, Settle(id))), frame.Ack.Reports, _cancel);
                break;
            case ConnectRequest.FrameOneofCase.Nack:
                await _acks.NackAsync(frame.Nack, Settle(frame.Nack.MessageId), _cancel);
                break;
            case ConnectRequest.FrameOneofCase.StopDeliveries:
                await _stop.CancelAsync();
                break;
        }
    }

    /// <summary>The connection id the message was polled under; frees its credit.</summary>
    private string Settle(string messageId)
    {
        TaskCompletionSource freed;
        string connectionId;
        lock (_gate)
        {
            _leases.Remove(messageId, out connectionId!);
            (freed, _creditFreed) = (_creditFreed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        freed.TrySetResult();
        return connectionId ?? "";
    }

    public async Task CompleteAsync()
    {
        await _stop.CancelAsync();
        _done.TrySetResult();
    }

    public void Dispose() => _stop.Dispose();
}

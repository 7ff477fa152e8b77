using System.Buffers;
using System.Net.WebSockets;
using Grpc.Core;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Protocols;

/// <summary>
/// The WebSocket connector protocol (issue 16: <c>GET /connect/stream/{channel}</c>, upgrade) as an
/// <see cref="IConnectCall"/>, on the BCL's <see cref="ClientWebSocket"/>. Server text frames <c>connected</c>,
/// <c>webhook</c> and <c>heartbeat</c> become <c>Subscribed</c>, <c>Delivery</c> and <c>Ping</c>; our acks, nacks and
/// pongs go up as <c>ack</c>, <c>nack</c> and <c>heartbeat</c> frames.
/// </summary>
/// <remarks>
/// The protocol has no credit message: queue-manager applies the channel's <c>max_in_flight</c>. It has no
/// "stop deliveries" either, so after the drain starts a webhook that still arrives is nacked with retry at once
/// (redelivered elsewhere) instead of starting a target call. A frame larger than <see cref="MaxFrameBytes"/> ends the
/// connection (bounded memory); the message in it is redelivered by queue-manager.
/// </remarks>
public sealed partial class WebSocketConnectCall : IConnectCall, IAsyncStreamReader<ConnectResponse>
{
    /// <summary>A 16 MiB body in base64 plus its headers and JSON, with room to spare.</summary>
    public const int MaxFrameBytes = 32 * 1024 * 1024;

    private readonly ClientWebSocket _socket = new();
    private readonly string _channel;
    private readonly CancellationToken _cancel;
    private readonly Task _opened;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly TimeProvider _time;
    private uint _maxInFlight;
    private volatile bool _stopping;
    private bool _completed;

    private readonly ILogger _logger;

    public WebSocketConnectCall(Http1Endpoint endpoint, string channel, string token, string connectorId, TimeProvider time, CancellationToken cancel, ILogger? logger = null)
    {
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _channel = channel;
        _cancel = cancel;
        _time = time;
        _socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        if (connectorId.Length > 0)
        {
            _socket.Options.SetRequestHeader("X-Connector-ID", connectorId);
        }

        _socket.Options.CollectHttpResponseDetails = true;
        _socket.Options.KeepAliveInterval = endpoint.KeepAliveInterval;
        _opened = OpenAsync(endpoint.WebSocketPath("connect/stream/" + Uri.EscapeDataString(channel)), endpoint.Invoker);
    }

    public string Protocol => ConnectProtocols.WebSocket;

    public IAsyncStreamReader<ConnectResponse> ResponseStream => this;

    public ConnectResponse Current { get; private set; } = null!;

    private async Task OpenAsync(Uri uri, HttpMessageInvoker invoker)
    {
        try
        {
            await _socket.ConnectAsync(uri, invoker, _cancel);
        }
        catch (WebSocketException ex) when (_socket.HttpStatusCode != 0)
        {
            throw Http1Status.FromHttp(_socket.HttpStatusCode, ex.Message);
        }
        catch (Exception ex) when (ex is WebSocketException or HttpRequestException or IOException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "WebSocket handshake with " + uri.GetLeftPart(UriPartial.Authority) + " failed: " + (ex.InnerException?.Message ?? ex.Message), ex));
        }
    }

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        await _opened;
        while (true)
        {
            var frame = await ReceiveFrameAsync();
            if (frame is null)
            {
                return false;
            }

            using var document = Http1Messages.Parse(frame.Value, out var type);
            var root = document.RootElement;
            switch (type)
            {
                case "connected":
                    Current = new ConnectResponse { Subscribed = Http1Messages.Subscribed(root, _maxInFlight) };
                    return true;
                case "webhook":
                    var message = Http1Messages.Webhook(root, _channel);
                    if (_stopping)
                    {
                        await SendAsync(Http1Messages.Nack(new Nack { MessageId = message.MessageId, Retry = true, Reason = "connector stopping" }));
                        continue;
                    }

                    Current = new ConnectResponse { Delivery = new Contracts.V1.Delivery { Message = message } };
                    return true;
                case "heartbeat":
                    Current = new ConnectResponse { Ping = new Ping() };
                    return true;
                case "error":
                    // A notice about one of our frames (e.g. message_not_in_flight for an ack after the lease
                    // expired); the connection goes on. Refusals end the connection with a close code instead.
                    LogServerError(_logger, _channel, Http1Messages.Text(root, "error") ?? "", Http1Messages.Text(root, "message") ?? "", Http1Messages.Text(root, "message_id") ?? "");
                    continue;
                default:
                    // A newer server's frame we do not know: ignore it rather than drop the connection.
                    continue;
            }
        }
    }

    /// <summary>One whole text message, or null after a normal close.</summary>
    private async Task<ReadOnlyMemory<byte>?> ReceiveFrameAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        while (true)
        {
            ValueWebSocketReceiveResult result;
            try
            {
                result = await _socket.ReceiveAsync(buffer.GetMemory(16 * 1024), _cancel);
            }
            catch (Exception ex) when (ex is WebSocketException or IOException)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "WebSocket connection lost: " + ex.Message, ex));
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                if (Http1Status.FromClose(_socket.CloseStatus, _socket.CloseStatusDescription) is { } error)
                {
                    throw error;
                }

                return null;
            }

            buffer.Advance(result.Count);
            if (buffer.WrittenCount > MaxFrameBytes)
            {
                _socket.Abort();
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"queue-manager sent a WebSocket frame over {MaxFrameBytes} bytes"));
            }

            if (result.EndOfMessage)
            {
                return buffer.WrittenMemory;
            }
        }
    }

    public async Task WriteAsync(ConnectRequest frame, bool more)
    {
        await _opened;
        switch (frame.FrameCase)
        {
            case ConnectRequest.FrameOneofCase.Subscribe:
                _maxInFlight = frame.Subscribe.MaxInFlight;
                break;
            case ConnectRequest.FrameOneofCase.Ack:
                var reports = frame.Ack.Reports.Count == 0 ? null : frame.Ack.Reports.ToDictionary(r => r.MessageId, StringComparer.Ordinal);
                foreach (var id in frame.Ack.MessageIds)
                {
                    await SendAsync(Http1Messages.Ack(id, reports?.GetValueOrDefault(id)));
                }

                break;
            case ConnectRequest.FrameOneofCase.Nack:
                await SendAsync(Http1Messages.Nack(frame.Nack));
                break;
            case ConnectRequest.FrameOneofCase.Pong:
                await SendAsync(Http1Messages.Heartbeat(_time.GetUtcNow()));
                break;
            case ConnectRequest.FrameOneofCase.StopDeliveries:
                _stopping = true;
                break;
        }
    }

    private async Task SendAsync(byte[] json)
    {
        // The reader nacks late webhooks while the writer loop sends: ClientWebSocket allows one send at a time.
        await _sendLock.WaitAsync(_cancel);
        try
        {
            await _socket.SendAsync(json, WebSocketMessageType.Text, endOfMessage: true, _cancel);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public async Task CompleteAsync()
    {
        await _opened;
        await _sendLock.WaitAsync(_cancel);
        try
        {
            if (!_completed && _socket.State == WebSocketState.Open)
            {
                _completed = true;
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "connector stopping", _cancel);
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _sendLock.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "queue-manager answered a frame on channel {Channel}'s WebSocket with error {Error}: {Detail} (message {MessageId})")]
    private static partial void LogServerError(ILogger logger, string channel, string error, string detail, string messageId);
}

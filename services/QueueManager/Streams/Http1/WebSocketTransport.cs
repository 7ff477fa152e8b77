using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Grpc.Core;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.QueueManager.Streams.Http1;

/// <summary>
/// Adapts a WebSocket to the Connect session (<see cref="StreamConnection"/>): client text frames become
/// <see cref="ConnectRequest"/>s, responses become text frames. Bad frames (not JSON, unknown <c>type</c>, an ack for a
/// message this connection does not hold) are answered with an error frame and the connection goes on; a message
/// larger than the limit closes it with 1009. A send that does not complete within the send timeout (a client that
/// stops reading) aborts the socket, so the session ends and its leases are released.
/// </summary>
public sealed class WebSocketTransport(WebSocket socket, StreamConnection connection, int maxFrameBytes, TimeSpan sendTimeout)
    : IAsyncStreamReader<ConnectRequest>, IServerStreamWriter<ConnectResponse>, IConnectFrameWriter
{
    private readonly ArrayBufferWriter<byte> _out = new(4096);
    /// <summary>One receive buffer for the life of the connection (a pending receive may still write into it).</summary>
    private readonly byte[] _in = new byte[maxFrameBytes + 1];
    private Task<ValueWebSocketReceiveResult>? _pending;
    /// <summary>Bytes of the message being received so far (it may arrive in several receives).</summary>
    private int _length;
    /// <summary>A request read while coalescing acks, handed out by the next <see cref="MoveNext"/>.</summary>
    private ConnectRequest? _next;
    /// <summary>The client closed, or sent a message over the limit: no more requests.</summary>
    private bool _ended;

    public ConnectRequest Current { get; private set; } = new();

    public WriteOptions? WriteOptions { get; set; }

    /// <summary>Set when the client sent a message over the size limit: the caller closes with 1009.</summary>
    public bool TooBig { get; private set; }

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        var request = _next;
        _next = null;
        while (request is null)
        {
            if (_ended)
            {
                return false;
            }

            var result = await ReceiveAsync(_in.AsMemory(_length, maxFrameBytes + 1 - _length), cancellationToken);
            request = OnReceived(result);
        }

        if (request.FrameCase == ConnectRequest.FrameOneofCase.Ack)
        {
            CoalesceBufferedAcks(request.Ack);
        }

        Current = request;
        return true;
    }

    /// <summary>
    /// The protocol has one <c>ack</c> frame per message, and the session settles one request at a time (one Redis
    /// call each, in order). Ack frames that have already arrived behind this one (a connector acking a burst) are
    /// merged into it, so a burst costs one settlement as a gRPC <c>Ack</c> with several ids does. Only frames that
    /// can be read without waiting are taken: a lone ack goes at once. The first frame that is not an ack is kept
    /// for the next <see cref="MoveNext"/>, so frames are still handled in the order they arrived.
    /// </summary>
    private void CoalesceBufferedAcks(Ack ack)
    {
        HashSet<string>? ids = null;
        while (_next is null && !_ended && ack.MessageIds.Count < MaxCoalescedAcks && TryReceiveBuffered(out var result))
        {
            if (OnReceived(result) is not { } next)
            {
                continue;
            }

            if (next.FrameCase != ConnectRequest.FrameOneofCase.Ack)
            {
                _next = next;
                break;
            }

            ids ??= new HashSet<string>(ack.MessageIds, StringComparer.Ordinal);
            foreach (var id in next.Ack.MessageIds)
            {
                if (ids.Add(id))
                {
                    ack.MessageIds.Add(id);
                }
                else
                {
                    // Sent one by one, the second ack would find the message settled: same answer.
                    connection.TryPostNotice($"message_not_in_flight\n{NotInFlight}\n{id}");
                }
            }
        }
    }

    /// <summary>Most acks merged into one settlement: a burst of one connection's acks is one Lua call that blocks Redis
    /// while it runs, so keep it short (the gRPC connector sends at most 500 ids per frame).</summary>
    private const int MaxCoalescedAcks = 256;

    private const string NotInFlight = ClientFrames.NotInFlight;

    /// <summary>Accounts for one receive into <see cref="_in"/>; returns the request once a whole message arrived and
    /// parses into one (null otherwise: more to come, an error notice was posted, or the stream ended).</summary>
    private ConnectRequest? OnReceived(ValueWebSocketReceiveResult result)
    {
        if (result.MessageType == WebSocketMessageType.Close)
        {
            CloseReceived = true;
            _ended = true;
            return null;
        }

        _length += result.Count;
        if (_length > maxFrameBytes)
        {
            TooBig = true;
            _ended = true;
            return null;
        }

        if (!result.EndOfMessage)
        {
            return null;
        }

        var length = _length;
        _length = 0;
        if (result.MessageType != WebSocketMessageType.Text)
        {
            connection.TryPostNotice("invalid_frame\nbinary frames are not part of the protocol; send JSON text frames");
            return null;
        }

        return ClientFrames.Parse(_in.AsSpan(0, length), connection);
    }

    /// <summary>A receive that completes without waiting (the bytes are already here), else false with the receive left
    /// pending for the next <see cref="ReceiveAsync"/>.</summary>
    private bool TryReceiveBuffered(out ValueWebSocketReceiveResult result)
    {
        result = default;
        if (_pending is null)
        {
            var receive = socket.ReceiveAsync(_in.AsMemory(_length, maxFrameBytes + 1 - _length), CancellationToken.None);
            if (receive.IsCompletedSuccessfully)
            {
                result = receive.Result;
                return true;
            }

            _pending = receive.AsTask();
            return false;
        }

        if (!_pending.IsCompletedSuccessfully)
        {
            // Still waiting, or failed: ReceiveAsync reports it on the next MoveNext.
            return false;
        }

        result = _pending.Result;
        _pending = null;
        return true;
    }

    /// <summary>True once the client's close frame arrived.</summary>
    public bool CloseReceived { get; private set; }

    /// <summary>
    /// A cancelled WebSocket receive aborts the socket, which would leave no way to send the close code that says
    /// why the session ended (1012, 4001, …). So the receive itself is never cancelled: cancellation abandons the
    /// wait, the receive stays pending, and <see cref="FinishCloseAsync"/> collects it after the close frame is sent.
    /// </summary>
    private async Task<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> into, CancellationToken cancellationToken)
    {
        _pending ??= socket.ReceiveAsync(into, CancellationToken.None).AsTask();
        var receive = _pending;
        await Task.WhenAny(receive).WaitAsync(cancellationToken);
        _pending = null;
        try
        {
            return await receive;
        }
        catch (WebSocketException ex)
        {
            // The client went away without a close frame: the session ends as for a dropped gRPC stream.
            throw new IOException(ex.Message, ex);
        }
    }

    /// <summary>After our close frame: waits briefly for the client's, so it reads the close code before the TCP
    /// connection ends.</summary>
    public async Task FinishCloseAsync()
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(2);
        try
        {
            while (!CloseReceived && socket.State is WebSocketState.CloseSent or WebSocketState.Open && DateTimeOffset.UtcNow < deadline)
            {
                var result = await ReceiveAsync(_in.AsMemory(0, maxFrameBytes), CancellationToken.None).WaitAsync(deadline - DateTimeOffset.UtcNow);
                CloseReceived = result.MessageType == WebSocketMessageType.Close;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or TimeoutException or IOException or OperationCanceledException)
        {
            // The client went away or never answers the close: the socket is disposed anyway.
        }
    }

    public Task WriteAsync(ConnectResponse message) => WriteAsync(message, 0, null, CancellationToken.None);

    public async Task WriteAsync(ConnectResponse? response, long sequence, string? notice, CancellationToken cancellationToken)
    {
        _out.ResetWrittenCount();
        switch (response?.FrameCase)
        {
            case ConnectResponse.FrameOneofCase.Subscribed:
                WireFormat.Connected(_out, connection.Id, connection.Channel, response);
                break;
            case ConnectResponse.FrameOneofCase.Delivery:
                WireFormat.Webhook(_out, response.Delivery, sequence);
                break;
            case ConnectResponse.FrameOneofCase.Ping:
                WireFormat.Heartbeat(_out, withType: true);
                break;
            case null when notice is not null:
                _out.Write(ClientFrames.NoticeJson(notice, withType: true));
                break;
            default:
                // Draining: the protocol has no such frame; the close code 1012 that follows says it.
                return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(sendTimeout);
        try
        {
            await socket.SendAsync(_out.WrittenMemory, WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Abort();
            throw new IOException($"the connector did not read for {sendTimeout.TotalSeconds:0} s (QueueManager:HttpSendTimeout); disconnected");
        }
    }
}

/// <summary>Client → server frames of the WebSocket protocol: <c>ack</c>, <c>nack</c>, <c>heartbeat</c>.</summary>
public static class ClientFrames
{
    public const string NotInFlight = "this connection holds no such message (another connection's, already settled, or its lease expired)";

    /// <summary>The request a frame stands for, or null after posting an error notice for it.</summary>
    public static ConnectRequest? Parse(ReadOnlySpan<byte> frame, StreamConnection connection)
    {
        string? type;
        string? messageId = null;
        var retry = true;
        var reason = "";
        uint status = 0;
        double? durationMs = null;
        try
        {
            var reader = new Utf8JsonReader(frame, new JsonReaderOptions { MaxDepth = 8 });
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Fail(connection, "invalid_frame", "a frame must be a JSON object with a \"type\"");
            }

            type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (root.TryGetProperty("message_id", out var id))
            {
                messageId = id.ValueKind == JsonValueKind.String ? id.GetString() : null;
            }

            if (root.TryGetProperty("retry", out var r))
            {
                if (r.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    return Fail(connection, "invalid_frame", "\"retry\" must be true or false", messageId);
                }

                retry = r.GetBoolean();
            }

            if (root.TryGetProperty("reason", out var why) && why.ValueKind == JsonValueKind.String)
            {
                reason = why.GetString() ?? "";
            }

            // Optional: what the target answered (old connectors omit them).
            // target_status_code: what connectors before issue 17 wrote on nack frames (ignored by then).
            if (root.TryGetProperty("status_code", out var code) || root.TryGetProperty("target_status_code", out code))
            {
                if (TargetAnswer.CheckStatus(code.ValueKind == JsonValueKind.Number ? code.GetDouble() : null) is { } error)
                {
                    return Fail(connection, "invalid_frame", error, messageId);
                }

                status = (uint)code.GetDouble();
            }

            if (root.TryGetProperty("duration_ms", out var took))
            {
                if (TargetAnswer.CheckDuration(took.ValueKind == JsonValueKind.Number ? took.GetDouble() : null) is { } error)
                {
                    return Fail(connection, "invalid_frame", error, messageId);
                }

                durationMs = took.GetDouble();
            }
        }
        catch (JsonException)
        {
            return Fail(connection, "invalid_frame", "the frame is not valid JSON");
        }

        switch (type)
        {
            case "heartbeat":
                return new ConnectRequest { Pong = new Pong() };
            case "ack" or "nack" when string.IsNullOrEmpty(messageId):
                return Fail(connection, "invalid_frame", $"\"{type}\" needs a \"message_id\" string");
            case "ack" or "nack" when !connection.Holds(messageId!):
                return Fail(connection, "message_not_in_flight", NotInFlight, messageId);
            case "ack":
                var ack = new Ack { MessageIds = { messageId } };
                if (status != 0 || durationMs is not null)
                {
                    ack.Reports.Add(new TargetReport
                    {
                        MessageId = messageId,
                        TargetStatusCode = status,
                        TargetDuration = durationMs is { } ms ? TargetAnswer.ToDuration(ms) : null,
                    });
                }

                return new ConnectRequest { Ack = ack };
            case "nack":
                return new ConnectRequest
                {
                    Nack = new Nack
                    {
                        MessageId = messageId,
                        Retry = retry,
                        Reason = reason,
                        TargetStatusCode = status,
                        TargetDuration = durationMs is { } took ? TargetAnswer.ToDuration(took) : null,
                    },
                };
            case null:
                return Fail(connection, "invalid_frame", "the frame has no \"type\" string");
            default:
                return Fail(connection, "unknown_type", $"unknown type '{(type.Length > 40 ? type[..40] : type)}'; expected ack, nack or heartbeat");
        }
    }

    /// <summary>Notices travel as "code\nmessage\nmessage_id" through the session's buffer.</summary>
    public static byte[] NoticeJson(string notice, bool withType)
    {
        var parts = notice.Split('\n', 3);
        return WireFormat.Error(parts[0], parts.Length > 1 ? parts[1] : "", parts.Length > 2 ? parts[2] : null, withType);
    }

    private static ConnectRequest? Fail(StreamConnection connection, string code, string message, string? messageId = null)
    {
        connection.TryPostNotice(messageId is null ? $"{code}\n{message}" : $"{code}\n{message}\n{messageId}");
        return null;
    }
}

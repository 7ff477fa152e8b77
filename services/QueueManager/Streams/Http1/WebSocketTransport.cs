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

    public ConnectRequest Current { get; private set; } = new();

    public WriteOptions? WriteOptions { get; set; }

    /// <summary>Set when the client sent a message over the size limit: the caller closes with 1009.</summary>
    public bool TooBig { get; private set; }

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        while (true)
        {
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                if (length > maxFrameBytes)
                {
                    TooBig = true;
                    return false;
                }

                result = await ReceiveAsync(_in.AsMemory(length, maxFrameBytes + 1 - length), cancellationToken);
                length += result.Count;
            }
            while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

            if (result.MessageType == WebSocketMessageType.Close)
            {
                CloseReceived = true;
                return false;
            }

            if (length > maxFrameBytes)
            {
                TooBig = true;
                return false;
            }

            if (result.MessageType != WebSocketMessageType.Text)
            {
                connection.TryPostNotice("invalid_frame\nbinary frames are not part of the protocol; send JSON text frames");
                continue;
            }

            if (ClientFrames.Parse(_in.AsSpan(0, length), connection) is { } request)
            {
                Current = request;
                return true;
            }
        }
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
                if ((code.ValueKind == JsonValueKind.Number ? TargetAnswer.CheckStatus(code.GetDouble()) : TargetAnswer.CheckStatus(-1)) is { } error)
                {
                    return Fail(connection, "invalid_frame", error, messageId);
                }

                status = (uint)code.GetDouble();
            }

            if (root.TryGetProperty("duration_ms", out var took))
            {
                if ((took.ValueKind == JsonValueKind.Number ? TargetAnswer.CheckDuration(took.GetDouble()) : TargetAnswer.CheckDuration(-1)) is { } error)
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
                return Fail(connection, "message_not_in_flight", "this connection holds no such message (another connection's, already settled, or its lease expired)", messageId);
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

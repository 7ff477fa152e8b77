using System.Net.WebSockets;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Channels;

namespace WebhookConnect.QueueManager.Streams.Http1;

/// <summary>
/// WebSocket <c>GET /connect/stream/{channel}</c> and SSE <c>GET /connect/stream/{channel}/sse</c>: each opens a
/// connection through <see cref="ConnectionOpener"/> (as gRPC Connect does) and runs the same
/// <see cref="StreamConnection"/> session over its transport adapter.
/// </summary>
public sealed partial class StreamEndpoints(
    ConnectionOpener opener,
    ConnectionRegistry registry,
    IOptions<QueueManagerOptions> options,
    ILogger<StreamEndpoints> logger)
{
    private readonly QueueManagerOptions _options = options.Value;

    public async Task StreamAsync(HttpContext http, string channel)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "this path is a WebSocket endpoint: send an upgrade request (or use /sse or /poll)"));
        }

        // Token and channel are checked before the upgrade completes: a bad token is a failed handshake (401).
        StreamConnection connection;
        ChannelConfig config;
        try
        {
            (connection, config) = await opener.OpenAsync(Request(http, channel, ConnectProtocols.WebSocket));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
        {
            using var refused = await http.WebSockets.AcceptWebSocketAsync();
            await CloseAsync(refused, (WebSocketCloseStatus)4003, "Max connections reached");
            return;
        }

        var why = "client closed the connection";
        try
        {
            ConnectorRequests.WarnIfQueryToken(http, logger, connection);
            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            var transport = new WebSocketTransport(socket, connection, _options.MaxClientFrameBytes, _options.HttpSendTimeout);
            var status = await connection.RunAsync(opener.Subscribed(connection, config), transport, transport, http.RequestAborted);
            var (code, reason) = transport.TooBig
                ? (WebSocketCloseStatus.MessageTooBig, $"Message too big: at most {_options.MaxClientFrameBytes} bytes")
                : CloseCodeOf(status);
            why = status is null ? why : $"{status.Value.StatusCode}: {status.Value.Detail}";
            await CloseAsync(socket, code, reason);
            await transport.FinishCloseAsync();
        }
        finally
        {
            await registry.RemoveAsync(connection, why);
        }
    }

    public async Task SseAsync(HttpContext http, string channel)
    {
        StreamConnection connection;
        ChannelConfig config;
        try
        {
            (connection, config) = await opener.OpenAsync(Request(http, channel, ConnectProtocols.Sse));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
        {
            await SseTransport.WriteErrorEventAsync(http, "max_connections_reached");
            return;
        }

        var why = "client closed the connection";
        try
        {
            ConnectorRequests.WarnIfQueryToken(http, logger, connection);
            SseTransport.Prepare(http);
            var transport = new SseTransport(http, connection, _options.HttpSendTimeout);
            // Ends the stream when the session ends (drain, operator disconnect, revoked token): the response
            // completes, which an SSE client sees as the end of the stream.
            var status = await connection.RunAsync(opener.Subscribed(connection, config), transport, transport, http.RequestAborted);
            why = status is null ? why : $"{status.Value.StatusCode}: {status.Value.Detail}";
        }
        finally
        {
            await registry.RemoveAsync(connection, why);
        }
    }

    private ConnectionRequest Request(HttpContext http, string channel, string protocol) => new(
        channel,
        ConnectorRequests.Token(http, _options),
        protocol,
        ConnectorRequests.RemoteAddress(http),
        ConnectorRequests.ConnectorId(http),
        ExpectsClientFrames: false);

    /// <summary>How a session's end reads as a WebSocket close (docs/queue-manager.md lists the codes).</summary>
    private (WebSocketCloseStatus Code, string Reason) CloseCodeOf(Status? status) => status?.StatusCode switch
    {
        null or StatusCode.OK => (WebSocketCloseStatus.NormalClosure, "closed"),
        StatusCode.Unavailable when registry.Draining => ((WebSocketCloseStatus)1012, "service restart"),
        StatusCode.Unauthenticated => ((WebSocketCloseStatus)4001, "Invalid channel token"),
        StatusCode.Aborted => ((WebSocketCloseStatus)4002, "Disconnected by an operator"),
        StatusCode.NotFound => ((WebSocketCloseStatus)4004, "Channel not found"),
        StatusCode.InvalidArgument => (WebSocketCloseStatus.PolicyViolation, Truncate(status.Value.Detail)),
        _ => (WebSocketCloseStatus.InternalServerError, "queue-manager could not serve the connection; reconnect"),
    };

    /// <summary>A close reason fits in a control frame (123 bytes of UTF-8).</summary>
    private static string Truncate(string reason) => reason.Length > 100 ? reason[..100] : reason;

    private static async Task CloseAsync(WebSocket socket, WebSocketCloseStatus code, string reason)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.CloseOutputAsync(code, reason, timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The client went away or does not read: nothing left to tell it.
            socket.Abort();
        }
    }
}

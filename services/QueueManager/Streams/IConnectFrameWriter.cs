using WebhookConnect.Contracts.V1;

namespace WebhookConnect.QueueManager.Streams;

/// <summary>
/// A response writer of an HTTP/1.1 connector protocol: it receives what the gRPC message has no room for, the
/// delivery's sequence number and protocol notices (error frames). <see cref="StreamConnection"/>'s single write loop
/// is its only caller.
/// </summary>
public interface IConnectFrameWriter
{
    /// <summary>Writes <paramref name="response"/> (with <paramref name="sequence"/> for a delivery) or, when it is
    /// null, the <paramref name="notice"/>.</summary>
    Task WriteAsync(ConnectResponse? response, long sequence, string? notice, CancellationToken cancellationToken);
}

/// <summary>The connector protocols a connection can use (ListConnections' <c>protocol</c>, the metrics label).</summary>
public static class ConnectProtocols
{
    public const string Grpc = "grpc";

    public const string WebSocket = "websocket";

    public const string Sse = "sse";

    public const string LongPoll = "long-poll";
}

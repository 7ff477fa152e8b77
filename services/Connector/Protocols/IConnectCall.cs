using Grpc.Core;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Protocols;

/// <summary>
/// One connection to queue-manager in the vocabulary of the <c>Connect</c> stream, whatever the wire: the gRPC call
/// itself, or an HTTP/1.1 protocol (WebSocket, SSE, long-poll) translated to and from <see cref="ConnectRequest"/> and
/// <see cref="ConnectResponse"/> frames. This is what lets every protocol feed the same delivery pipeline
/// (<see cref="Streams.SubscriptionStream"/>: targets, local retries, ack/nack, drain, reconnect).
/// </summary>
/// <remarks>
/// The contract is the gRPC call's: <see cref="ResponseStream"/> yields <c>Subscribed</c> once, then deliveries,
/// pings and draining notices, ends when the server completes, and fails with an <see cref="RpcException"/> whose
/// status means what it means on gRPC (UNAUTHENTICATED, NOT_FOUND, RESOURCE_EXHAUSTED, UNAVAILABLE, …), so the
/// reconnect policy is one policy. <see cref="WriteAsync"/> is called by one writer loop only.
/// </remarks>
public interface IConnectCall : IDisposable
{
    /// <summary>The wire protocol, as <c>Connector:QueueManager:Protocol</c> spells it.</summary>
    string Protocol { get; }

    IAsyncStreamReader<ConnectResponse> ResponseStream { get; }

    /// <summary>Sends one frame; <paramref name="more"/> says more frames follow at once (they may share a flush).</summary>
    Task WriteAsync(ConnectRequest frame, bool more);

    /// <summary>The connector is done (after a drain): half-close, so the server ends the connection.</summary>
    Task CompleteAsync();
}

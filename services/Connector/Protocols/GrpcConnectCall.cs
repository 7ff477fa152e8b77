using Grpc.Core;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Protocols;

/// <summary>The <c>Connect</c> bidi gRPC call (SPEC §7) as an <see cref="IConnectCall"/>.</summary>
public sealed class GrpcConnectCall(AsyncDuplexStreamingCall<ConnectRequest, ConnectResponse> call) : IConnectCall
{
    private static readonly WriteOptions BufferHint = new(WriteFlags.BufferHint);

    public string Protocol => ConnectProtocols.Grpc;

    public IAsyncStreamReader<ConnectResponse> ResponseStream => call.ResponseStream;

    public Task WriteAsync(ConnectRequest frame, bool more)
    {
        call.RequestStream.WriteOptions = more ? BufferHint : null;
        return call.RequestStream.WriteAsync(frame);
    }

    public Task CompleteAsync()
    {
        call.RequestStream.WriteOptions = null;
        return call.RequestStream.CompleteAsync();
    }

    public void Dispose() => call.Dispose();
}

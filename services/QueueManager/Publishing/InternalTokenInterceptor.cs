using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using WebhookConnect.ServiceDefaults.Grpc;

namespace WebhookConnect.QueueManager.Publishing;

/// <summary>
/// Guards the internal APIs (PublishService, QueueAdminService) with the shared internal token. It is attached to
/// those services themselves (not to a path prefix), so it runs for every method they bind however the request's
/// path is cased, and an unknown method never reaches a handler. Connect, health and reflection are not affected.
/// </summary>
public sealed class InternalTokenInterceptor : Interceptor
{
    private readonly byte[]? _expectedHash;

    public InternalTokenInterceptor(IOptions<QueueManagerOptions> options)
    {
        var configured = options.Value;
        var token = BearerToken.Configured(configured.InternalToken, configured.InternalTokenFile);
        // Empty only with QueueManager:AllowInternalWithoutToken on a loopback listener (validated at start-up).
        _expectedHash = token.Length == 0 ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        if (_expectedHash is null)
        {
            return;
        }

        var presented = BearerToken.From(context.RequestHeaders.GetValue("authorization")) ?? "";
        // Hash both sides so the comparison is constant time whatever the lengths.
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), _expectedHash))
        {
            throw new RpcException(new Status(
                StatusCode.Unauthenticated,
                presented.Length == 0
                    ? "this internal API needs 'authorization: Bearer <internal token>' (QueueManager:InternalToken)"
                    : "the internal token is not valid"));
        }
    }
}

using Grpc.Core;
using Grpc.Core.Interceptors;

namespace WebhookConnect.Admin.Authentication;

/// <summary>
/// Runs <see cref="AdminAuthentication.Check"/> before every AdminService method. Attached to the service (not
/// to a path), so neither a differently cased path nor an unknown method reaches a handler unchecked; AdminService
/// has unary methods and one server-streaming method (TailChannel), checked the same way before it starts.
/// </summary>
public sealed class AdminAuthorizationInterceptor(AdminAuthentication authentication) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        // context.Method is the bound method's own "/package.Service/Method", whatever the request path said.
        var method = context.Method[(context.Method.LastIndexOf('/') + 1)..];
        if (authentication.Check(context.GetHttpContext(), method, (Google.Protobuf.IMessage)request) is { } refusal)
        {
            throw new RpcException(refusal);
        }

        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "AdminService has no client-streaming methods"));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var method = context.Method[(context.Method.LastIndexOf('/') + 1)..];
        if (authentication.Check(context.GetHttpContext(), method, (Google.Protobuf.IMessage)request) is { } refusal)
        {
            throw new RpcException(refusal);
        }

        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "AdminService has no duplex streaming methods"));
}

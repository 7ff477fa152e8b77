using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace WebhookConnect.Grpc.Server;

/// <summary>For middleware that refuses a gRPC call before it reaches a handler (authentication, for example).</summary>
public static class GrpcHttpResponses
{
    /// <summary>Answers the request with a trailers-only gRPC response carrying <paramref name="status"/>.</summary>
    public static Task WriteStatusAsync(HttpContext http, Status status) => HttpServerCallContext.WriteTrailersOnlyAsync(http, status);
}

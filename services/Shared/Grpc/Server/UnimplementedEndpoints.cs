using System.Runtime.CompilerServices;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using WebhookConnect.Grpc.Protocol;

namespace WebhookConnect.Grpc.Server;

/// <summary>
/// Answers gRPC requests for methods nobody mapped with UNIMPLEMENTED, as a trailers-only response.
/// The catch-all has the lowest priority and ignores non-gRPC requests (they get the usual 404), so it
/// can share a port with ordinary HTTP endpoints.
/// </summary>
internal static class UnimplementedEndpoints
{
    private static readonly ConditionalWeakTable<IEndpointRouteBuilder, object> Mapped = [];

    public static void EnsureMapped(IEndpointRouteBuilder endpoints, GrpcServiceRegistry registry)
    {
        if (Mapped.TryGetValue(endpoints, out _))
        {
            return;
        }

        Mapped.Add(endpoints, new object());
        endpoints.MapMethods("{unimplementedService}/{unimplementedMethod}", ["POST"], http => HandleAsync(http, registry))
            .WithDisplayName("gRPC unimplemented")
            .Add(builder => ((RouteEndpointBuilder)builder).Order = int.MaxValue);
    }

    private static Task HandleAsync(HttpContext http, GrpcServiceRegistry registry)
    {
        if (!GrpcProtocol.IsGrpcContentType(http.Request.ContentType))
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        var service = (string)http.Request.RouteValues["unimplementedService"]!;
        var method = (string)http.Request.RouteValues["unimplementedMethod"]!;
        var detail = registry.TryGet(service, out _)
            ? $"Method '{method}' is not implemented by service '{service}'."
            : $"Service '{service}' is not implemented by this server.";
        return HttpServerCallContext.WriteTrailersOnlyAsync(http, new Status(StatusCode.Unimplemented, detail));
    }
}

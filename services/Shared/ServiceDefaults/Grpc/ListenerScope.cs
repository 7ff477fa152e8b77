using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace WebhookConnect.ServiceDefaults.Grpc;

/// <summary>
/// Ties endpoints to one listener (the socket's local port), so a service that has a public and an internal port
/// answers each method only where it belongs. The port a connection reached is a fact of the socket; routing by
/// <c>RequireHost</c> would trust the <c>:authority</c> the client chose. Requests for an endpoint bound to
/// another port get <c>UNIMPLEMENTED</c>, exactly as an unknown method does, so the public port does not even
/// confirm that the internal services exist.
/// </summary>
public static class ListenerScope
{
    /// <summary>Serves these endpoints only on connections that arrived on <paramref name="port"/>.</summary>
    public static TBuilder OnlyOnPort<TBuilder>(this TBuilder builder, int port)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint => endpoint.Metadata.Add(new ListenerPortMetadata(port)));
        return builder;
    }

    /// <summary>
    /// Enforces <see cref="OnlyOnPort{TBuilder}"/>. Runs after routing (WebApplication routes first), before any
    /// endpoint; register it before mapping.
    /// </summary>
    public static IApplicationBuilder UseListenerScope(this IApplicationBuilder app) => app.Use(static (http, next) =>
    {
        var required = http.GetEndpoint()?.Metadata.GetMetadata<ListenerPortMetadata>();
        if (required is null || http.Connection.LocalPort == required.Port)
        {
            return next(http);
        }

        return GrpcStatusResponse.WriteAsync(http, new Status(
            StatusCode.Unimplemented, $"Method '{http.Request.Path.Value}' is not implemented on this port."));
    });

    private sealed record ListenerPortMetadata(int Port);
}

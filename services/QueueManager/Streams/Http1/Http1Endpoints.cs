using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.ServiceDefaults.Grpc;

namespace WebhookConnect.QueueManager.Streams.Http1;

/// <summary>
/// The HTTP/1.1 connector protocols on <c>QueueManager:HttpPort</c> (SPEC §16, docs/queue-manager.md "HTTP/1.1
/// connector protocols"): WebSocket, SSE, long-poll, <c>POST /connect/ack</c> and <c>GET /connect/status</c>.
/// </summary>
public static class Http1Endpoints
{
    public static WebApplication MapHttp1Connectors(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<QueueManagerOptions>>().Value;
        app.UseWebSockets(new WebSocketOptions
        {
            // WebSocket ping/pong finds a dead peer: old connectors need not answer the JSON heartbeats.
            KeepAliveInterval = options.HeartbeatInterval,
            KeepAliveTimeout = 2 * options.HeartbeatInterval,
        });
        var group = app.MapGroup("/connect");
        group.MapGet("/stream/{channel}", (HttpContext http, string channel, StreamEndpoints streams) => Guard(http, () => streams.StreamAsync(http, channel)));
        group.MapGet("/stream/{channel}/sse", (HttpContext http, string channel, StreamEndpoints streams) => Guard(http, () => streams.SseAsync(http, channel)));
        group.MapGet("/stream/{channel}/poll", (HttpContext http, string channel, LongPoll poll) => Guard(http, () => poll.PollAsync(http, channel)));
        group.MapPost("/ack", (HttpContext http, HttpSettlement settlement) => Guard(http, () => settlement.AckAsync(http)));
        group.MapGet("/status/{channel}", (HttpContext http, string channel, HttpSettlement settlement) => Guard(http, () => settlement.StatusAsync(http, channel)));
        group.OnlyOnPort(options.HttpPort);
        return app;
    }

    /// <summary>A refusal (an <see cref="RpcException"/> from the shared connection machinery or these handlers)
    /// becomes its HTTP status with <c>{"detail": …}</c>, as existing connectors expect; nothing is written once the
    /// response started.</summary>
    private static async Task Guard(HttpContext http, Func<Task> handler)
    {
        try
        {
            await handler();
        }
        catch (RpcException ex) when (!http.Response.HasStarted)
        {
            await WriteDetailAsync(http, Errors.ToHttpStatus(ex.StatusCode), ex.Status.Detail);
        }
    }

    public static async Task WriteDetailAsync(HttpContext http, int status, string detail)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(WireFormat.Detail(detail), http.RequestAborted);
    }
}

using System.Net;
using System.Net.WebSockets;
using Grpc.Core;

namespace WebhookConnect.Connector.Protocols;

/// <summary>
/// How the HTTP/1.1 protocols' refusals and closes read as gRPC statuses (issue 16's codes), written once, so the
/// stream's reconnect policy treats them as it treats the same refusal on gRPC: UNAUTHENTICATED and NOT_FOUND are
/// logged loudly and retried slowly (the token file is watched), everything else reconnects with backoff.
/// </summary>
public static class Http1Status
{
    /// <summary>The WebSocket close code of a bad token (refused after the upgrade by older servers).</summary>
    public const int InvalidToken = 4001;

    /// <summary>The WebSocket close code of <c>max_connections</c>.</summary>
    public const int MaxConnections = 4003;

    /// <summary>An HTTP answer that is not the expected one (a refused upgrade, an SSE or poll error).</summary>
    public static RpcException FromHttp(HttpStatusCode? status, string? detail)
    {
        var code = status switch
        {
            HttpStatusCode.Unauthorized => StatusCode.Unauthenticated,
            HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
            HttpStatusCode.NotFound => StatusCode.NotFound,
            HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest => StatusCode.InvalidArgument,
            HttpStatusCode.TooManyRequests => StatusCode.ResourceExhausted,
            HttpStatusCode.ServiceUnavailable when detail?.Contains("max", StringComparison.OrdinalIgnoreCase) == true => StatusCode.ResourceExhausted,
            _ => StatusCode.Unavailable,
        };
        var text = status is null ? "no HTTP answer" : $"HTTP {(int)status.Value}";
        return new RpcException(new Status(code, string.IsNullOrWhiteSpace(detail) ? text : $"{text}: {detail.Trim()}"));
    }

    /// <summary>A WebSocket closed by the server; null for a normal closure (the call completed).</summary>
    public static RpcException? FromClose(WebSocketCloseStatus? status, string? description)
    {
        var number = (int?)status;
        var code = number switch
        {
            (int)WebSocketCloseStatus.NormalClosure => (StatusCode?)null,
            InvalidToken => StatusCode.Unauthenticated,
            MaxConnections => StatusCode.ResourceExhausted,
            4002 => StatusCode.Aborted,
            4004 => StatusCode.NotFound,
            (int)WebSocketCloseStatus.PolicyViolation => StatusCode.PermissionDenied,
            _ => StatusCode.Unavailable,
        };
        return code is null
            ? null
            : new RpcException(new Status(code.Value, $"WebSocket closed by queue-manager ({number?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no close frame"}{(string.IsNullOrEmpty(description) ? "" : " " + description)})"));
    }
}

using Grpc.Core;
using WebhookConnect.ServiceDefaults.Grpc;

namespace WebhookConnect.QueueManager.Streams.Http1;

/// <summary>Reads what every HTTP/1.1 connector request carries: the channel token and the connector id.</summary>
public static partial class ConnectorRequests
{
    /// <summary>Set on a request whose token came from <c>?token=</c>: the caller logs the deprecation warning once per
    /// connection (the token itself never reaches a log, a metric or a trace).</summary>
    public const string QueryTokenItem = "wc.query-token";

    /// <summary>
    /// The bearer token of <c>Authorization</c>, else (when <see cref="QueueManagerOptions.AllowQueryToken"/>) of
    /// <c>?token=</c>. Throws UNAUTHENTICATED "Missing authorization token" when there is none.
    /// </summary>
    public static string Token(HttpContext http, QueueManagerOptions options)
    {
        var header = http.Request.Headers.Authorization;
        if (header.Count > 0)
        {
            return BearerToken.From(header.ToString())
                ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "Malformed authorization header: expected 'Bearer <channel token>'"));
        }

        if (options.AllowQueryToken && http.Request.Query.TryGetValue("token", out var query) && query.ToString() is { Length: > 0 } token)
        {
            http.Items[QueryTokenItem] = true;
            return token;
        }

        throw new RpcException(new Status(StatusCode.Unauthenticated, "Missing authorization token"));
    }

    /// <summary>The optional <c>X-Connector-ID</c>: at most 128 printable characters.</summary>
    public static string ConnectorId(HttpContext http)
    {
        var id = http.Request.Headers["X-Connector-ID"].ToString();
        if (id.Length > 128 || id.Any(char.IsControl))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "X-Connector-ID: at most 128 printable characters"));
        }

        return id;
    }

    public static string RemoteAddress(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "";

    /// <summary>The deprecation warning of <c>?token=</c>, once per connection, naming the connector.</summary>
    public static void WarnIfQueryToken(HttpContext http, ILogger logger, StreamConnection connection)
    {
        if (http.Items.ContainsKey(QueryTokenItem))
        {
            LogQueryToken(logger, connection.Info.ConnectorId.Length > 0 ? connection.Info.ConnectorId : "(no X-Connector-ID)", connection.RemoteAddress(), connection.Channel, connection.Id);
        }
    }

    private static string RemoteAddress(this StreamConnection connection) => connection.Info.RemoteAddress;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connector {ConnectorId} at {RemoteAddress} sent its channel token in the query string (?token=, deprecated: proxies log query strings) on channel {Channel}, connection {ConnectionId}; send 'Authorization: Bearer <token>' instead, then set QueueManager:AllowQueryToken=false")]
    private static partial void LogQueryToken(ILogger logger, string connectorId, string remoteAddress, string channel, string connectionId);
}

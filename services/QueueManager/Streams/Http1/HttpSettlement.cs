using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Admin;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Redis;
using WebhookConnect.QueueManager.Telemetry;

namespace WebhookConnect.QueueManager.Streams.Http1;

/// <summary>
/// <c>POST /connect/ack</c> (settles one message of any connection: a live WebSocket or SSE connection on this
/// replica, a poll whose request ended, or a connection on another replica) and <c>GET /connect/status/{channel}</c>.
/// The same Lua scripts as gRPC settle it: only a message leased to that connection id is settled.
/// </summary>
public sealed class HttpSettlement(
    ConnectionRegistry registry,
    PollConnections polls,
    MessageQueue queue,
    QueueQueries queries,
    IConnectionMultiplexer redis,
    QueueMetrics metrics,
    IOptions<QueueManagerOptions> options)
{
    private static readonly JsonFormatter StatsFormatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatDefaultValues(true));
    private const int MaxReasonLength = 1024;
    private readonly QueueManagerOptions _options = options.Value;

    public async Task AckAsync(HttpContext http)
    {
        var token = ConnectorRequests.Token(http, _options);
        var messageId = Required(http.Request.Query["message_id"].ToString(), "message_id query parameter");
        var connectionId = Required(http.Request.Headers["X-Connection-ID"].ToString(), "X-Connection-ID header");
        var status = http.Request.Query["status"].ToString() is { Length: > 0 } s ? s : "ack";
        if (status is not ("ack" or "nack"))
        {
            throw Invalid("status: must be ack or nack");
        }

        var retry = true;
        if (http.Request.Query["retry"].ToString() is { Length: > 0 } r && !bool.TryParse(r, out retry))
        {
            throw Invalid("retry: must be true or false");
        }

        // The connector's words for the dead letter's last_error (the WebSocket nack frame's "reason"); bounded, as
        // every client-chosen string that is stored.
        var reason = http.Request.Query["reason"].ToString() is { Length: > 0 } why ? why : "nack over POST /connect/ack";
        if (reason.Length > MaxReasonLength)
        {
            throw Invalid($"reason: at most {MaxReasonLength} characters, got {reason.Length}");
        }

        uint statusCode = 0;
        if (http.Request.Query["status_code"].ToString() is { Length: > 0 } sc)
        {
            double? code = double.TryParse(sc, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
            if (TargetAnswer.CheckStatus(code) is { } error)
            {
                throw Invalid(error);
            }

            statusCode = (uint)code!.Value;
        }

        Duration? took = null;
        if (http.Request.Query["duration_ms"].ToString() is { Length: > 0 } dm)
        {
            double? ms = double.TryParse(dm, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
            if (TargetAnswer.CheckDuration(ms) is { } error)
            {
                throw Invalid(error);
            }

            took = TargetAnswer.ToDuration(ms!.Value);
        }

        var channel = await ChannelOfAsync(connectionId)
            ?? throw new RpcException(new Status(StatusCode.NotFound, "Connection not found"));
        registry.TryGet(connectionId, out var live);
        // A token that matches the channel's settings as this replica caches them (read when a stream or a poll of the
        // channel opened here, kept current by change events; a token that stops matching closes the streams too)
        // needs no Redis read, as SSE and long-poll settle every message here, one request each. Any other token is
        // checked against Redis, so a token rotated a moment ago is not refused while the cache catches up. The ack
        // settles only what is leased to the connection id, which was authenticated when its stream or poll opened.
        if (!registry.TryGetCachedConfig(channel, out var cached) || !ChannelTokens.Matches(cached, token, DateTimeOffset.UtcNow, out _))
        {
            await AuthenticateAsync(channel, token);
        }

        bool settled;
        if (status == "ack")
        {
            var ack = new Ack { MessageIds = { messageId } };
            if (statusCode != 0 || took is not null)
            {
                ack.Reports.Add(new TargetReport { MessageId = messageId, TargetStatusCode = statusCode, TargetDuration = took });
            }

            settled = live is not null
                ? await Errors.GuardAsync(() => live.AckAsync(ack)) == 1
                : await Errors.GuardAsync(() => queue.AckAsync(channel, connectionId, [messageId], ack.Reports)) == 1;
            if (settled && live is null)
            {
                metrics.Acked(channel, 1);
            }
        }
        else
        {
            var nack = new Nack { MessageId = messageId, Retry = retry, Reason = reason, TargetStatusCode = statusCode, TargetDuration = took };
            settled = live is not null
                ? await Errors.GuardAsync(() => live.NackAsync(nack))
                : await Errors.GuardAsync(() => queue.NackAsync(channel, connectionId, nack));
            if (settled && live is null)
            {
                metrics.Nacked(channel, retry);
            }
        }

        if (!settled)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "Message not in flight"));
        }

        await WriteJsonAsync(http, json =>
        {
            json.WriteString("status", "ok");
            json.WriteString("message_id", messageId);
        });
    }

    public async Task StatusAsync(HttpContext http, string channel)
    {
        var token = ConnectorRequests.Token(http, _options);
        await AuthenticateAsync(channel, token);
        var stats = await Errors.GuardAsync(() => queries.TryGetStatsAsync(channel))
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"channel '{channel}' does not exist"));
        await WriteJsonAsync(http, json =>
        {
            json.WriteString("channel", channel);
            // Live connections of the channel across replicas and protocols (what max_connections counts).
            json.WriteNumber("connected", stats.Connections);
            json.WritePropertyName("stats");
            json.WriteRawValue(StatsFormatter.Format(stats));
            json.WriteString("server_time", DateTimeOffset.UtcNow);
        });
    }

    /// <summary>The channel of a connection: live here, a poll whose request ended (answered here, or on any replica as
    /// Redis knows), or live on another replica.</summary>
    private async Task<string?> ChannelOfAsync(string connectionId)
    {
        if (registry.TryGet(connectionId, out var live))
        {
            return live.Channel;
        }

        if (polls.TryGetChannel(connectionId, out var polled))
        {
            return polled;
        }

        var db = redis.GetDatabase();
        var poll = await Errors.GuardAsync(() => db.StringGetAsync(GlobalKeys.PollConnection(connectionId)));
        if (poll.HasValue)
        {
            return poll.ToString();
        }

        var elsewhere = await Errors.GuardAsync(() => db.HashGetAsync(GlobalKeys.ConnectionIndex, connectionId));
        return elsewhere.HasValue ? elsewhere.ToString() : null;
    }

    private async Task AuthenticateAsync(string channel, string token)
    {
        var config = await Errors.GuardAsync(() => queue.GetConfigAsync(channel))
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"channel '{channel}' does not exist"));
        if (!ChannelTokens.Matches(config, token, DateTimeOffset.UtcNow, out _))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "Invalid channel token"));
        }
    }

    private static string Required(string value, string what) =>
        value.Length > 0 ? value : throw Invalid($"missing {what}");

    private static RpcException Invalid(string detail) => new(new Status(StatusCode.InvalidArgument, detail));

    private static async Task WriteJsonAsync(HttpContext http, Action<Utf8JsonWriter> body)
    {
        var output = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            body(json);
            json.WriteEndObject();
        }

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(output.WrittenMemory, http.RequestAborted);
    }
}

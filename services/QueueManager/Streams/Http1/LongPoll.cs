using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Redis;
using WebhookConnect.QueueManager.Telemetry;

namespace WebhookConnect.QueueManager.Streams.Http1;

/// <summary>
/// Long-poll <c>GET /connect/stream/{channel}/poll?timeout=30&amp;max_messages=10</c>. A poll is a short-lived
/// connection: opened like any other (it counts for <c>max_connections</c> while the request is open), it leases up to
/// <c>max_messages</c> (and at most the channel's <c>max_in_flight</c>) as soon as any are ready, or answers 204 at the
/// timeout. Its connection id lives on after the request: the messages stay leased to it in Redis until ack, nack or
/// the channel's <c>ack_timeout</c>, and <c>wc:poll-connection:{id}</c> maps it to its channel for
/// <c>POST /connect/ack</c> until then (plus a minute). If the response cannot be written, the leases are released
/// at once.
/// </summary>
public sealed partial class LongPoll(
    ConnectionOpener opener,
    ConnectionRegistry registry,
    PollConnections polls,
    MessageQueue queue,
    IConnectionMultiplexer redis,
    QueueMetrics metrics,
    IOptions<QueueManagerOptions> options,
    ILogger<LongPoll> logger)
{
    private readonly QueueManagerOptions _options = options.Value;

    public async Task PollAsync(HttpContext http, string channel)
    {
        var timeout = Parameter(http, "timeout", 30, 1, 60);
        var maxMessages = Parameter(http, "max_messages", 10, 1, 100);
        StreamConnection connection;
        Channels.ChannelConfig config;
        try
        {
            (connection, config) = await opener.OpenAsync(new ConnectionRequest(
                channel,
                ConnectorRequests.Token(http, _options),
                ConnectProtocols.LongPoll,
                ConnectorRequests.RemoteAddress(http),
                ConnectorRequests.ConnectorId(http),
                MaxInFlight: (uint)maxMessages,
                ExpectsClientFrames: false));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "Max connections reached"));
        }

        LeaseBatch batch = default;
        var why = "poll answered";
        try
        {
            ConnectorRequests.WarnIfQueryToken(http, logger, connection);
            var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(timeout);
            while (true)
            {
                if (connection.Ended.IsCompleted || registry.Draining)
                {
                    var ended = connection.Ended.IsCompleted ? await connection.Ended : new Status(StatusCode.Unavailable, "queue-manager is shutting down; poll again");
                    why = ended.Detail;
                    throw new RpcException(ended);
                }

                batch = await Errors.GuardAsync(() => queue.DeliverAsync(channel, connection.Id, (int)connection.Info.MaxInFlight, _options.StreamBufferBytes, connection.Info.ConnectorId, connection.Info.Protocol));
                if (batch.Status == LeaseStatus.Ok && batch.Messages.Length > 0)
                {
                    break;
                }

                var left = deadline - DateTimeOffset.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    http.Response.StatusCode = StatusCodes.Status204NoContent;
                    why = "poll timed out";
                    return;
                }

                // Woken by a publish, a resume or a close; else asks again every 2 s (a lost wake-up is noticed).
                var wake = connection.WaitForWakeAsync(left < TimeSpan.FromSeconds(2) ? left : TimeSpan.FromSeconds(2), http.RequestAborted);
                await Task.WhenAny(wake, connection.Ended);
                http.RequestAborted.ThrowIfCancellationRequested();
            }

            metrics.Delivered(channel, batch.Messages.Length);
            // Before the answer: an ack may follow it at once.
            await Errors.GuardAsync(() => redis.GetDatabase().StringSetAsync(
                GlobalKeys.PollConnection(connection.Id), channel, config.AckTimeout + TimeSpan.FromMinutes(1)));
            polls.Remember(connection.Id, channel, config.AckTimeout + TimeSpan.FromMinutes(1));
            await WriteMessagesAsync(http, connection, batch);
            batch = default;
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            why = "client went away";
        }
        catch (IOException)
        {
            why = "client went away";
        }
        finally
        {
            if (batch.Messages is { Length: > 0 } unsent)
            {
                // Leased but never handed over: released at once, as a dropped connection's leases are.
                await ReleaseQuietlyAsync(channel, connection.Id, unsent);
            }

            await registry.RemoveAsync(connection, why);
        }
    }

    private async Task ReleaseQuietlyAsync(string channel, string connectionId, LeasedMessage[] messages)
    {
        try
        {
            await queue.ReleaseAsync(channel, connectionId, [.. messages.Select(m => m.MessageId)]);
        }
        catch (Exception ex) when (Errors.IsRedisFailure(ex))
        {
            LogReleaseFailed(logger, ex, connectionId, messages.Length);
        }
    }

    private static async Task WriteMessagesAsync(HttpContext http, StreamConnection connection, LeaseBatch batch)
    {
        var output = new ArrayBufferWriter<byte>(16 * 1024);
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            json.WriteStartArray("messages");
            var deadline = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(batch.LeaseDeadline);
            foreach (var leased in batch.Messages)
            {
                var message = Message.Parser.ParseFrom(leased.Envelope);
                message.Attempt = (uint)leased.Attempt;
                WireFormat.WriteWebhook(json, message, leased.Sequence, deadline, withType: true);
            }

            json.WriteEndArray();
            json.WriteString("connection_id", connection.Id);
            json.WriteString("channel", connection.Channel);
            json.WriteString("timestamp", DateTimeOffset.UtcNow);
            json.WriteEndObject();
        }

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/json";
        http.Response.Headers["X-Connection-ID"] = connection.Id;
        await http.Response.Body.WriteAsync(output.WrittenMemory, http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }

    /// <summary>An integer query parameter in [min, max], else 422 naming it.</summary>
    private static int Parameter(HttpContext http, string name, int fallback, int min, int max)
    {
        if (!http.Request.Query.TryGetValue(name, out var text) || text.ToString().Length == 0)
        {
            return fallback;
        }

        if (!int.TryParse(text.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"{name}: must be an integer from {min} to {max}"));
        }

        return value;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Poll {ConnectionId}: could not release {Count} unsent messages (Redis unreachable); they return after ack_timeout")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, string connectionId, int count);
}

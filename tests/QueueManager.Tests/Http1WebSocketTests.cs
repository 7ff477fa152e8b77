using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>The WebSocket connector protocol (issue 16) against a real queue-manager and redis-server, driven by a
/// client written from the issue's protocol description (<see cref="WebSocketTestConnector"/>).</summary>
public sealed class Http1WebSocketTests(SharedQueueManager shared) : IClassFixture<SharedQueueManager>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    private Uri Http => shared.Replica.HttpAddress;

    [Fact]
    public async Task WebSocketDeliversWaitingWebhooksInOrderWithRedisSequencesAndExactBytes()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-basic");
        var published = await shared.Replica.Internal.PublishManyAsync(channel, 3);
        var json = TestMessages.NewMessage(channel, "{\"order\": [1, 2]}");
        json.Traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        json.Tracestate = "vendor=1";
        var binary = TestMessages.NewMessage(channel, "");
        binary.Body = ByteString.CopyFrom(0x00, 0xff, 0xfe, 0x41);
        binary.ContentType = "application/octet-stream";
        await shared.Replica.Internal.PublishAsync(json);
        await shared.Replica.Internal.PublishAsync(binary);

        await using var connector = await WebSocketTestConnector.ConnectAsync(Http, channel, token);
        Assert.Equal("connected", connector.Connected.GetProperty("type").GetString());
        Assert.Equal(channel, connector.Connected.GetProperty("channel").GetString());
        Assert.StartsWith("conn_", connector.ConnectionId, StringComparison.Ordinal);
        var frames = await connector.TakeAsync(5);

        Assert.Equal([.. published.Select(m => m.MessageId), json.MessageId, binary.MessageId], frames.Select(f => f.GetProperty("message_id").GetString()));
        var sequences = frames.Select(f => f.GetProperty("sequence").GetInt64()).ToArray();
        var lastInRedis = long.Parse((await shared.Redis.ExecuteAsync("GET", $"wc:{{{channel}}}:seq"))!, CultureInfo.InvariantCulture);
        Assert.Equal(Enumerable.Range((int)lastInRedis - 4, 5).Select(i => (long)i), sequences);
        Assert.Equal("text", frames[0].GetProperty("payload_encoding").GetString());
        Assert.Equal("m-0", frames[0].GetProperty("payload").GetString());
        Assert.Equal("json", frames[3].GetProperty("payload_encoding").GetString());
        Assert.Equal(2, frames[3].GetProperty("payload").GetProperty("order")[1].GetInt32());
        Assert.Equal("base64", frames[4].GetProperty("payload_encoding").GetString());
        Assert.Equal(binary.Body.ToByteArray(), Convert.FromBase64String(frames[4].GetProperty("body_base64").GetString()!));
        Assert.Equal(Encoding.UTF8.GetBytes("{\"order\": [1, 2]}"), Convert.FromBase64String(frames[3].GetProperty("body_base64").GetString()!));
        Assert.Equal("ep", frames[0].GetProperty("webhook_id").GetString());
        Assert.Equal("a, \u00ff\u0080", frames[0].GetProperty("headers").GetProperty("X-Repeat").GetString());
        Assert.Equal(1, frames[0].GetProperty("attempt").GetInt32());
        // The stored trace context travels as on gRPC (no exporter here: unchanged); a message without one has none.
        Assert.Equal((json.Traceparent, json.Tracestate), (frames[3].GetProperty("traceparent").GetString(), frames[3].GetProperty("tracestate").GetString()));
        Assert.False(frames[4].TryGetProperty("traceparent", out _));

        foreach (var frame in frames)
        {
            await connector.AckAsync(frame.GetProperty("message_id").GetString()!);
        }

        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") == 5, Patience, "5 acks over the WebSocket counted");
        Assert.Equal(0, await shared.CountAsync(channel, "leases"));
    }

    [Fact]
    public async Task AWebSocketWithAWrongOrMissingTokenFailsTheHandshakeWith401AndAnUnknownChannelWith404()
    {
        var (channel, _) = await shared.NewChannelAsync("ws-auth");

        Assert.Equal(401, await WebSocketTestConnector.RefusedHandshakeAsync(Http, channel, "wrong-token"));
        Assert.Equal(401, await WebSocketTestConnector.RefusedHandshakeAsync(Http, channel, null));
        Assert.Equal(404, await WebSocketTestConnector.RefusedHandshakeAsync(Http, "no-such-channel-" + Guid.NewGuid().ToString("N")[..6], "whatever"));
    }

    [Fact]
    public async Task WebSocketNackWithRetryRedeliversAsTheNextAttemptAndWithoutRetryDeadLetters()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-nack", new Dictionary<string, string> { ["backoff_initial_ms"] = "50", ["backoff_jitter"] = "0", ["max_delivery_attempts"] = "2" });
        var retried = TestMessages.NewMessage(channel, "retry");
        var rejected = TestMessages.NewMessage(channel, "reject");
        await shared.Replica.Internal.PublishAsync(retried);
        await shared.Replica.Internal.PublishAsync(rejected);
        await using var connector = await WebSocketTestConnector.ConnectAsync(Http, channel, token);
        var first = await connector.TakeAsync(2);

        await connector.NackAsync(retried.MessageId, retry: null);
        await connector.NackAsync(rejected.MessageId, retry: false);
        var again = await connector.NextAsync();
        Assert.Equal(retried.MessageId, again.GetProperty("message_id").GetString());
        Assert.Equal(2, again.GetProperty("attempt").GetInt32());
        Assert.Equal(first[0].GetProperty("sequence").GetInt64(), again.GetProperty("sequence").GetInt64());
        await connector.NackAsync(retried.MessageId, retry: true);

        await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "dlq") == 2, Patience, "both messages dead-lettered (REJECTED, then MAX_ATTEMPTS)");
        var letters = await shared.Admin.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = channel });
        Assert.Equal(
            [(rejected.MessageId, DeadLetterReason.Rejected), (retried.MessageId, DeadLetterReason.MaxAttempts)],
            letters.Messages.Select(d => (d.Message.MessageId, d.Reason)).OrderBy(p => p.Reason == DeadLetterReason.MaxAttempts));
    }

    [Fact]
    public async Task ADroppedWebSocketReleasesItsLeasesAtOnceAndAnotherConnectionGetsAttemptTwo()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-drop", new Dictionary<string, string> { ["ack_timeout_ms"] = "600000" });
        var message = TestMessages.NewMessage(channel, "held");
        await shared.Replica.Internal.PublishAsync(message);
        var dropped = await WebSocketTestConnector.ConnectAsync(Http, channel, token);
        await dropped.NextAsync();
        Assert.Equal(1, await shared.CountAsync(channel, "leases"));

        dropped.Abort();
        await dropped.DisposeAsync();

        await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "leases") == 0, TimeSpan.FromSeconds(10), "the dropped connection's lease released (not after the 10-minute ack_timeout)");
        await using var next = await WebSocketTestConnector.ConnectAsync(Http, channel, token);
        var again = await next.NextAsync();
        Assert.Equal(message.MessageId, again.GetProperty("message_id").GetString());
        Assert.Equal(2, again.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task AnExpiredAckTimeoutRedeliversTheMessageAsAttemptTwo()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-timeout", new Dictionary<string, string> { ["ack_timeout_ms"] = "1000", ["backoff_initial_ms"] = "10", ["backoff_jitter"] = "0" });
        await shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "slow"));
        await using var silent = await WebSocketTestConnector.ConnectAsync(Http, channel, token, "silent");
        var first = await silent.NextAsync();
        await using var other = await WebSocketTestConnector.ConnectAsync(Http, channel, token, "other");

        var redelivered = await Task.WhenAny(silent.NextAsync(), other.NextAsync()).Unwrap();

        Assert.Equal(first.GetProperty("message_id").GetString(), redelivered.GetProperty("message_id").GetString());
        Assert.Equal(2, redelivered.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task MaxConnectionsCountsGrpcAndHttpConnectionsTogetherAndRefusesTheFourthOfAnyKind()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-max", new Dictionary<string, string> { ["max_connections"] = "3" });
        await using var grpc1 = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        await using var grpc2 = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        await using var ws = await WebSocketTestConnector.ConnectAsync(Http, channel, token);
        Assert.Equal("connected", ws.Connected.GetProperty("type").GetString());

        await using var refusedWs = await WebSocketTestConnector.ConnectAsync(Http, channel, token);
        var (status, description) = await refusedWs.Closed.WaitAsync(Patience);
        Assert.Equal(4003, (int?)status);
        Assert.Equal("Max connections reached", description);
        var grpc = await Assert.ThrowsAsync<RpcException>(() => TestConnector.ConnectAsync(shared.Replica.Channel, channel, token));
        Assert.Equal(StatusCode.ResourceExhausted, grpc.StatusCode);
        using var http = new HttpClient { BaseAddress = Http, Timeout = Patience };
        using var poll = new HttpRequestMessage(HttpMethod.Get, $"/connect/stream/{channel}/poll?timeout=1");
        poll.Headers.Authorization = new("Bearer", token);
        using var pollResponse = await http.SendAsync(poll);
        Assert.Equal(503, (int)pollResponse.StatusCode);
        Assert.Contains("Max connections reached", await pollResponse.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var sse = new HttpRequestMessage(HttpMethod.Get, $"/connect/stream/{channel}/sse");
        sse.Headers.Authorization = new("Bearer", token);
        using var sseResponse = await http.SendAsync(sse);
        Assert.Equal("event: error\ndata: {\"error\":\"max_connections_reached\"}\n\n", await sseResponse.Content.ReadAsStringAsync());

        var connections = await shared.Admin.ListConnectionsAsync(new ListConnectionsRequest { Channel = channel });
        Assert.Equal(["grpc", "grpc", "websocket"], connections.Connections.Select(c => c.Protocol).Order());
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{shared.Replica.ManagementPort}"), Timeout = Patience };
        var metrics = await management.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Matches($"webhookconnect_connections\\{{channel=\"{channel}\",protocol=\"websocket\"[^}}]*\\}} 1\\b", metrics);
        Assert.Matches($"webhookconnect_connections\\{{channel=\"{channel}\",protocol=\"grpc\"[^}}]*\\}} 2\\b", metrics);
    }

    [Fact]
    public async Task AckFramesCarryTheTargetsAnswerIntoTheHistoryAndBadValuesGetAnErrorFrameNamingTheField()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-report");
        await using var connector = await WebSocketTestConnector.ConnectAsync(Http, channel, token);
        var message = TestMessages.NewMessage(channel, "x");
        await shared.Replica.Internal.PublishAsync(message);
        var webhook = await connector.NextAsync();
        Assert.Equal(0, webhook.GetProperty("resend").GetInt32());

        await connector.SendJsonAsync(new { type = "ack", message_id = message.MessageId, status_code = "200" });
        var badStatus = await connector.NextAsync("error");
        Assert.Equal(("invalid_frame", "status_code: must be a whole number between 0 and 999"), (badStatus.GetProperty("error").GetString(), badStatus.GetProperty("message").GetString()));
        await connector.SendJsonAsync(new { type = "ack", message_id = message.MessageId, duration_ms = -3 });
        var badDuration = await connector.NextAsync("error");
        Assert.StartsWith("duration_ms: must be", badDuration.GetProperty("message").GetString(), StringComparison.Ordinal);

        await connector.SendJsonAsync(new { type = "ack", message_id = message.MessageId, status_code = 200, duration_ms = 12.5 });
        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") == 1, Patience, "the ack");
        var attempt = (await shared.Admin.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = message.MessageId })).Record.Attempts.Single();
        Assert.Equal((AttemptOutcome.Acked, 200u, TimeSpan.FromMilliseconds(12.5), "websocket", "ws-test"), (attempt.Outcome, attempt.TargetStatusCode, attempt.TargetDuration.ToTimeSpan(), attempt.Protocol, attempt.ConnectorId));
    }

    [Fact]
    public async Task GarbageFramesGetClearErrorsWhileTheConnectionKeepsDeliveringAndNothingIsLost()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-garbage");
        await using var connector = await WebSocketTestConnector.ConnectAsync(Http, channel, token);
        await using var other = await WebSocketTestConnector.ConnectAsync(Http, channel, token, "other");

        await connector.SendTextAsync("{not json");
        Assert.Equal("invalid_frame", (await connector.NextAsync("error")).GetProperty("error").GetString());
        await connector.SendJsonAsync(new { type = "subscribe", channel });
        var unknown = await connector.NextAsync("error");
        Assert.Equal("unknown_type", unknown.GetProperty("error").GetString());
        Assert.Contains("subscribe", unknown.GetProperty("message").GetString(), StringComparison.Ordinal);
        await connector.SendJsonAsync(new { type = "ack" });
        Assert.Equal("invalid_frame", (await connector.NextAsync("error")).GetProperty("error").GetString());
        await connector.SendAsync([1, 2, 3], WebSocketMessageType.Binary);
        Assert.Equal("invalid_frame", (await connector.NextAsync("error")).GetProperty("error").GetString());
        for (var i = 0; i < 10_000; i++)
        {
            await connector.SendTextAsync(i % 2 == 0 ? "]]" : "{\"type\":42}");
        }

        var message = TestMessages.NewMessage(channel, "after the garbage");
        await shared.Replica.Internal.PublishAsync(message);
        // Either connection may get it: the lease in Redis says which (reading both would leave a pending read behind).
        var owner = await Eventually.GetAsync(() => shared.Redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:owners", message.MessageId), "the message leased");
        var holder = owner == connector.ConnectionId ? connector : other;
        var stranger = holder == connector ? other : connector;
        Assert.Equal(message.MessageId, (await holder.NextAsync()).GetProperty("message_id").GetString());

        // Error frames are dropped while the connection's buffer is full (docs/queue-manager.md), and the garbage's
        // own errors may still fill it: the stranger asks again until a refusal finds room, within the deadline.
        var refused = await RefusalOfAckAsync(stranger, message.MessageId);
        Assert.Equal(message.MessageId, refused.GetProperty("message_id").GetString());
        Assert.Equal(1, await shared.CountAsync(channel, "leases"));
        await holder.AckAsync(message.MessageId);
        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") == 1, Patience, "the holder's ack settles the message");
    }

    private static async Task<JsonElement> RefusalOfAckAsync(WebSocketTestConnector connector, string messageId)
    {
        var deadline = DateTimeOffset.UtcNow + Patience;
        while (true)
        {
            await connector.AckAsync(messageId);
            try
            {
                while (true)
                {
                    var error = await connector.NextAsync("error", TimeSpan.FromSeconds(5));
                    if (error.GetProperty("error").GetString() == "message_not_in_flight")
                    {
                        return error;
                    }
                }
            }
            catch (TimeoutException) when (DateTimeOffset.UtcNow < deadline)
            {
                // Every queued error was read and this ack's refusal was dropped with a full buffer: ask again.
            }
        }
    }

    [Fact]
    public async Task AnOversizedFrameClosesTheWebSocketWith1009AndReleasesItsLeases()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-big", new Dictionary<string, string> { ["ack_timeout_ms"] = "600000" });
        await shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "held"));
        await using var connector = await WebSocketTestConnector.ConnectAsync(Http, channel, token);
        await connector.NextAsync();

        await connector.SendTextAsync("{\"type\":\"heartbeat\",\"pad\":\"" + new string('x', 70 * 1024) + "\"}");

        var (status, _) = await connector.Closed.WaitAsync(Patience);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
        await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "leases") == 0, TimeSpan.FromSeconds(10), "the closed connection's lease released");
        Assert.False(shared.Replica.Process.HasExited);
    }

    [Fact]
    public async Task RotationWithGraceKeepsTheOldTokenWebSocketUntilTheGraceEndsThenClosesItWith4001()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-rotate");
        await using var old = await WebSocketTestConnector.ConnectAsync(Http, channel, token);
        var rotation = await shared.Admin.RotateTokenAsync(new RotateTokenRequest { Channel = channel, GracePeriodSeconds = 3 });
        await using var fresh = await WebSocketTestConnector.ConnectAsync(Http, channel, rotation.NewToken);

        Assert.False(old.Closed.IsCompleted, "closed during the grace period");
        var (status, description) = await old.Closed.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(4001, (int?)status);
        Assert.Equal("Invalid channel token", description);
        Assert.False(fresh.Closed.IsCompleted);
        Assert.Equal(401, await WebSocketTestConnector.RefusedHandshakeAsync(Http, channel, token));
    }

    [Fact]
    public async Task AnOperatorDisconnectClosesTheWebSocketWith4002AndListConnectionsShowsItsProtocol()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-operator");
        await using var connector = await WebSocketTestConnector.ConnectAsync(Http, channel, token, "op-target");
        var listed = await shared.Admin.ListConnectionsAsync(new ListConnectionsRequest { Channel = channel });
        var connection = Assert.Single(listed.Connections);
        Assert.Equal(("websocket", "op-target", connector.ConnectionId), (connection.Protocol, connection.ConnectorId, connection.ConnectionId));

        await shared.Admin.DisconnectConnectionAsync(new DisconnectConnectionRequest { ConnectionId = connector.ConnectionId, Reason = "maintenance" });

        var (status, _) = await connector.Closed.WaitAsync(Patience);
        Assert.Equal(4002, (int?)status);
    }

    [Fact]
    public async Task AQueryStringTokenIsAcceptedWithAWarningNamingTheConnectorAndNeverLogged()
    {
        var (channel, token) = await shared.NewChannelAsync("ws-query");
        await using var connector = await WebSocketTestConnector.ConnectAsync(Http, channel, token: null, connectorId: "legacy-box-7", query: "?token=" + token);

        Assert.Equal("connected", connector.Connected.GetProperty("type").GetString());
        await shared.Replica.Process.WaitForLineAsync(l => l.Contains("legacy-box-7", StringComparison.Ordinal) && l.Contains("query string", StringComparison.Ordinal), Patience);
        Assert.DoesNotContain(token, shared.Replica.Process.Output, StringComparison.Ordinal);
    }
}

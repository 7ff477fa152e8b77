using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>SSE, long-poll, <c>POST /connect/ack</c> and <c>GET /connect/status</c> (issue 16) against a real
/// queue-manager and redis-server, with plain <see cref="HttpClient"/> requests written from the issue's text.</summary>
public sealed class Http1PollAndSseTests(SharedQueueManager shared) : IClassFixture<SharedQueueManager>, IDisposable
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    private readonly HttpClient _http = new() { BaseAddress = shared.Replica.HttpAddress, Timeout = Patience };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task SseStreamsConnectedAndWebhookEventsAndAcksOverPostSettleThem()
    {
        var (channel, token) = await shared.NewChannelAsync("sse-basic");
        var published = await shared.Replica.Internal.PublishManyAsync(channel, 2);
        await using var sse = await SseTestConnector.ConnectAsync(shared.Replica.HttpAddress, channel, token);

        Assert.Equal("text/event-stream", sse.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-cache", sse.Response.Headers.CacheControl?.ToString());
        Assert.Equal("no", Assert.Single(sse.Response.Headers.GetValues("X-Accel-Buffering")));
        var connected = await sse.NextAsync("connected");
        Assert.Equal(channel, connected.GetProperty("channel").GetString());
        var connectionId = connected.GetProperty("connection_id").GetString()!;
        var webhooks = new[] { await sse.NextAsync(), await sse.NextAsync() };
        Assert.Equal(published.Select(m => m.MessageId), webhooks.Select(w => w.GetProperty("message_id").GetString()));

        foreach (var webhook in webhooks)
        {
            using var ack = await AckAsync(token, connectionId, webhook.GetProperty("message_id").GetString()!);
            Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
            using var body = JsonDocument.Parse(await ack.Content.ReadAsStringAsync());
            Assert.Equal("ok", body.RootElement.GetProperty("status").GetString());
        }

        Assert.Equal(2, await shared.StatAsync(channel, "acked_total"));
        var listed = await shared.Admin.ListConnectionsAsync(new ListConnectionsRequest { Channel = channel });
        Assert.Equal("sse", Assert.Single(listed.Connections).Protocol);
    }

    [Fact]
    public async Task SseRefusesAMissingTokenWith401AWrongTokenWith401AndAnUnknownChannelWith404()
    {
        var (channel, _) = await shared.NewChannelAsync("sse-auth");

        using var missing = await _http.GetAsync(new Uri($"/connect/stream/{channel}/sse", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("{\"detail\":\"Missing authorization token\"}", await missing.Content.ReadAsStringAsync());
        await using var wrong = await SseTestConnector.ConnectAsync(shared.Replica.HttpAddress, channel, "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.Response.StatusCode);
        await using var unknown = await SseTestConnector.ConnectAsync(shared.Replica.HttpAddress, "nope-" + Guid.NewGuid().ToString("N")[..6], "wrong");
        Assert.Equal(HttpStatusCode.NotFound, unknown.Response.StatusCode);
    }

    [Fact]
    public async Task ADroppedSseClientReleasesItsLeasesAtOnceAndItsConnectionEnds()
    {
        var (channel, token) = await shared.NewChannelAsync("sse-drop", new Dictionary<string, string> { ["ack_timeout_ms"] = "600000" });
        await shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "held"));
        var sse = await SseTestConnector.ConnectAsync(shared.Replica.HttpAddress, channel, token);
        await sse.NextAsync();
        Assert.Equal(1, await shared.CountAsync(channel, "leases"));

        await sse.DisposeAsync();

        await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "leases") == 0, TimeSpan.FromSeconds(10), "the dropped SSE client's lease released");
        await Eventually.UntilAsync(
            async () => (await shared.Admin.ListConnectionsAsync(new ListConnectionsRequest { Channel = channel })).Connections.Count == 0,
            TimeSpan.FromSeconds(10),
            "the SSE connection to leave the registry");
        Assert.Equal(1, await shared.CountAsync(channel, "ready"));
    }

    [Fact]
    public async Task APolledMessageStaysLeasedUntilAckedOverPostAndIsAckedExactlyOnce()
    {
        var (channel, token) = await shared.NewChannelAsync("poll-ack", new Dictionary<string, string> { ["ack_timeout_ms"] = "600000" });
        var published = await shared.Replica.Internal.PublishManyAsync(channel, 3);

        using var response = await PollAsync(channel, token, "?timeout=5&max_messages=2");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var messages = body.RootElement.GetProperty("messages").EnumerateArray().ToArray();
        var connectionId = body.RootElement.GetProperty("connection_id").GetString()!;
        Assert.Equal(published.Take(2).Select(m => m.MessageId), messages.Select(m => m.GetProperty("message_id").GetString()));
        Assert.Equal(channel, body.RootElement.GetProperty("channel").GetString());

        // The poll is over: its messages stay leased to it (not requeued), and it no longer holds a connection slot.
        Assert.Equal(2, await shared.CountAsync(channel, "leases"));
        Assert.Equal(1, await shared.CountAsync(channel, "ready"));
        Assert.Equal(0, await shared.CountAsync(channel, "conns"));
        var first = messages[0].GetProperty("message_id").GetString()!;
        using (var ack = await AckAsync(token, connectionId, first))
        {
            Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        }

        using (var again = await AckAsync(token, connectionId, first))
        {
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
            Assert.Equal("{\"detail\":\"Message not in flight\"}", await again.Content.ReadAsStringAsync());
        }

        using (var nack = await AckAsync(token, connectionId, messages[1].GetProperty("message_id").GetString()!, "&status=nack&retry=false"))
        {
            Assert.Equal(HttpStatusCode.OK, nack.StatusCode);
        }

        Assert.Equal(1, await shared.StatAsync(channel, "acked_total"));
        Assert.Equal(1, await shared.CountAsync(channel, "dlq"));
        Assert.Equal(0, await shared.CountAsync(channel, "leases"));
    }

    [Fact]
    public async Task AnUnackedPolledMessageComesBackAsAttemptTwoAfterTheAckTimeout()
    {
        var (channel, token) = await shared.NewChannelAsync("poll-timeout", new Dictionary<string, string> { ["ack_timeout_ms"] = "1000", ["backoff_initial_ms"] = "10", ["backoff_jitter"] = "0" });
        var message = TestMessages.NewMessage(channel, "polled");
        await shared.Replica.Internal.PublishAsync(message);
        using var first = await PollAsync(channel, token, "?timeout=5");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        using var second = await PollAsync(channel, token, "?timeout=20");

        using var body = JsonDocument.Parse(await second.Content.ReadAsStringAsync());
        var again = Assert.Single(body.RootElement.GetProperty("messages").EnumerateArray());
        Assert.Equal(message.MessageId, again.GetProperty("message_id").GetString());
        Assert.Equal(2, again.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task AnEmptyPollAnswers204AfterItsTimeoutAndANewMessageEndsAWaitingPollAtOnce()
    {
        var (channel, token) = await shared.NewChannelAsync("poll-wait");
        using (var empty = await PollAsync(channel, token, "?timeout=1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, empty.StatusCode);
        }

        var waiting = PollAsync(channel, token, "?timeout=60");
        await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "conns") == 1, Patience, "the poll to be waiting");
        var started = DateTimeOffset.UtcNow;
        await shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "wake"));
        using var woken = await waiting;

        Assert.Equal(HttpStatusCode.OK, woken.StatusCode);
        Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(30), "the poll waited for its timeout instead of answering the new message");
    }

    [Theory]
    [InlineData("?timeout=0")]
    [InlineData("?timeout=61")]
    [InlineData("?max_messages=0")]
    [InlineData("?max_messages=101")]
    [InlineData("?timeout=abc")]
    public async Task APollWithAnOutOfRangeParameterIsRefusedWith422(string query)
    {
        var (channel, token) = await shared.NewChannelAsync("poll-422");

        using var response = await PollAsync(channel, token, query);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
    }

    [Fact]
    public async Task PostAckForAnOpenSseStreamTakesARotatedTokenAtOnceAndTheOldOneInItsGraceAndRefusesAWrongOne()
    {
        // Acks of a stream open on the replica are authenticated against its cached channel settings (no Redis read
        // per message); a token that the cache does not know yet must still be checked against Redis.
        var (channel, token) = await shared.NewChannelAsync("sse-ack-token");
        var published = await shared.Replica.Internal.PublishManyAsync(channel, 2);
        await using var sse = await SseTestConnector.ConnectAsync(shared.Replica.HttpAddress, channel, token);
        var connectionId = (await sse.NextAsync("connected")).GetProperty("connection_id").GetString()!;
        var ids = new[] { await sse.NextAsync(), await sse.NextAsync() }.Select(w => w.GetProperty("message_id").GetString()!).ToArray();
        Assert.Equal(published.Select(m => m.MessageId), ids);

        var rotation = await shared.Admin.RotateTokenAsync(new RotateTokenRequest { Channel = channel, GracePeriodSeconds = 60 });
        using (var fresh = await AckAsync(rotation.NewToken, connectionId, ids[0]))
        {
            Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        }

        using (var wrong = await AckAsync("wrong", connectionId, ids[1]))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using (var old = await AckAsync(token, connectionId, ids[1]))
        {
            Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        }

        Assert.Equal(2, await shared.StatAsync(channel, "acked_total"));
        Assert.Equal(0, await shared.CountAsync(channel, "leases"));
    }

    [Fact]
    public async Task PostAckAnswers404ForAnUnknownConnection422ForMissingParametersAnd401ForAWrongToken()
    {
        var (channel, token) = await shared.NewChannelAsync("ack-errors");
        await shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "x"));
        using var polled = await PollAsync(channel, token, "?timeout=5");
        using var body = JsonDocument.Parse(await polled.Content.ReadAsStringAsync());
        var connectionId = body.RootElement.GetProperty("connection_id").GetString()!;
        var messageId = body.RootElement.GetProperty("messages")[0].GetProperty("message_id").GetString()!;

        using (var unknown = await AckAsync(token, "conn_nope", messageId))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            Assert.Equal("{\"detail\":\"Connection not found\"}", await unknown.Content.ReadAsStringAsync());
        }

        using (var noHeader = await AckAsync(token, null, messageId))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, noHeader.StatusCode);
        }

        using (var noId = await AckAsync(token, connectionId, null))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, noId.StatusCode);
        }

        using (var wrongToken = await AckAsync("wrong", connectionId, messageId))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrongToken.StatusCode);
        }

        Assert.Equal(1, await shared.CountAsync(channel, "leases"));
    }

    [Fact]
    public async Task StatusShowsTheChannelsConnectionsAndStatsToItsTokenOnly()
    {
        var (channel, token) = await shared.NewChannelAsync("status");
        await shared.Replica.Internal.PublishManyAsync(channel, 2);
        await using var ws = await WebSocketTestConnector.ConnectAsync(shared.Replica.HttpAddress, channel, token);
        await ws.TakeAsync(2);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/connect/status/{channel}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, $"/connect/status/{channel}");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        using var refused = await _http.SendAsync(wrong);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(channel, body.RootElement.GetProperty("channel").GetString());
        Assert.Equal(1, body.RootElement.GetProperty("connected").GetInt32());
        Assert.Equal(2, body.RootElement.GetProperty("stats").GetProperty("messages_in_flight").GetInt32());
        Assert.True(body.RootElement.TryGetProperty("server_time", out _));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task PostAckRecordsTheTargetsStatusAndDurationAndRefusesBadValuesWith422NamingTheField()
    {
        var (channel, token) = await shared.NewChannelAsync("ack-report");
        var message = TestMessages.NewMessage(channel, "x");
        await shared.Replica.Internal.PublishAsync(message);
        using var polled = await PollAsync(channel, token, "?timeout=5");
        using var body = JsonDocument.Parse(await polled.Content.ReadAsStringAsync());
        var connectionId = body.RootElement.GetProperty("connection_id").GetString()!;
        Assert.Equal(0, body.RootElement.GetProperty("messages")[0].GetProperty("resend").GetInt32());

        foreach (var (extra, field) in new[] { ("&status_code=abc", "status_code"), ("&status_code=1000", "status_code"), ("&duration_ms=-1", "duration_ms"), ("&duration_ms=NaN", "duration_ms") })
        {
            using var refused = await AckAsync(token, connectionId, message.MessageId, extra);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
            Assert.StartsWith($"{{\"detail\":\"{field}: must be", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var acked = await AckAsync(token, connectionId, message.MessageId, "&status_code=204&duration_ms=12.5"))
        {
            Assert.Equal(HttpStatusCode.OK, acked.StatusCode);
        }

        var attempt = (await shared.Admin.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = message.MessageId })).Record.Attempts.Single();
        Assert.Equal((AttemptOutcome.Acked, 204u, TimeSpan.FromMilliseconds(12.5), "long-poll"), (attempt.Outcome, attempt.TargetStatusCode, attempt.TargetDuration.ToTimeSpan(), attempt.Protocol));
    }

    [Fact]
    public async Task ConcurrentPostAcksOfOneConnectionSettleEachOnceInFewScriptCalls()
    {
        // Its own replica and Redis: the script calls are counted, and nothing else may call scripts meanwhile
        // (one channel: its sweep and gauge refresh run about once a second).
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        using var http = new HttpClient { BaseAddress = replica.HttpAddress, Timeout = Patience };
        var channel = TestChannels.UniqueName("poll-acks");
        var token = await TestChannels.CreateAsync(replica.Internal, channel, new Dictionary<string, string> { ["ack_timeout_ms"] = "600000" });
        var published = await replica.Internal.PublishManyAsync(channel, 100);
        using var poll = new HttpRequestMessage(HttpMethod.Get, $"/connect/stream/{channel}/poll?timeout=5&max_messages=100");
        poll.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var polled = await http.SendAsync(poll);
        using var body = JsonDocument.Parse(await polled.Content.ReadAsStringAsync());
        var connectionId = body.RootElement.GetProperty("connection_id").GetString()!;
        var ids = body.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("message_id").GetString()!).ToArray();
        Assert.Equal(published.Select(m => m.MessageId), ids);

        // Every id once, the first one a second time and an id never leased, all at once, as a connector with
        // max_in_flight 100 sends them.
        var before = await ScriptCallsAsync(redis);
        string[] acked = [.. ids, ids[0], "never-leased"];
        var answers = await Task.WhenAll(acked.Select(async id =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/connect/ack?message_id={Uri.EscapeDataString(id)}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.Add("X-Connection-ID", connectionId);
            using var response = await http.SendAsync(request);
            return (id, response.StatusCode);
        }));
        var calls = await ScriptCallsAsync(redis) - before;

        // The first id: one of its two acks settled it, the other found it settled (as when they went one by one).
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.NotFound], answers.Where(a => a.id == ids[0]).Select(a => a.StatusCode).Order());
        Assert.All(answers.Where(a => a.id != ids[0] && a.id != "never-leased"), a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Equal(HttpStatusCode.NotFound, answers.Single(a => a.id == "never-leased").StatusCode);
        Assert.Equal(100, long.Parse((await redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:stats", "acked_total"))!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("0", await redis.ExecuteAsync("ZCARD", $"wc:{{{channel}}}:leases"));
        // One ack.lua call per ack would be 102 calls; grouped, they share calls (plus the odd sweep).
        Assert.True(calls < 40, $"{calls} script calls for 102 concurrent acks");
    }

    private static async Task<long> ScriptCallsAsync(RedisServer redis)
    {
        var stats = await redis.ExecuteAsync("INFO", "commandstats") ?? "";
        var line = stats.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(',')[0]["cmdstat_evalsha:calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<HttpResponseMessage> PollAsync(string channel, string token, string query)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/connect/stream/{channel}/poll{query}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await _http.SendAsync(request);
    }

    private async Task<HttpResponseMessage> AckAsync(string token, string? connectionId, string? messageId, string extra = "")
    {
        var query = messageId is null ? "?status=ack" : $"?message_id={Uri.EscapeDataString(messageId)}";
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/connect/ack{query}{extra}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (connectionId is not null)
        {
            request.Headers.Add("X-Connection-ID", connectionId);
        }

        return await _http.SendAsync(request);
    }
}

using System.Text;
using Google.Protobuf;
using WebhookConnect.Connector.Tests.Support;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests;

/// <summary>SPEC §9 delivery: what the target receives and how its answer becomes an ack or a nack. Real redis-server,
/// queue-manager and connector processes, real Kestrel targets.</summary>
public sealed class DeliveryTests(QueueStack stack) : IClassFixture<QueueStack>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task TheTargetReceivesTheRawBodyByteForByteWithTheOriginalHeadersAndTheWebhookHeaders()
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("bytes");
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url("/in")), files: Configs.Token(token));

        // Every byte value, including ones that are not valid UTF-8 in any arrangement.
        var body = Enumerable.Range(0, 256).Select(i => (byte)i).Concat(new byte[] { 0xff, 0xfe, 0xc3, 0x28, 0x00 }).ToArray();
        const string traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        var message = await stack.PublishAsync(channel, channel, body, m =>
        {
            m.Headers.Clear();
            AddHeader(m, "Content-Type", "application/octet-stream");
            AddHeader(m, "X-Signature", "sha256=abc");
            m.Headers.Add(new Header { Name = "X-Latin", Value = ByteString.CopyFrom(0x63, 0x61, 0x66, 0xe9) }); // "café" in Latin-1
            AddHeader(m, "Connection", "keep-alive, X-Per-Hop");
            AddHeader(m, "X-Per-Hop", "must not pass");
            AddHeader(m, "Keep-Alive", "timeout=5");
            AddHeader(m, "Transfer-Encoding", "chunked");
            AddHeader(m, "Upgrade", "h2c");
            AddHeader(m, "Proxy-Authorization", "Basic x");
            AddHeader(m, "TE", "trailers");
            AddHeader(m, "Host", "sender.example");
            AddHeader(m, "Content-Length", "999");
            AddHeader(m, "X-Webhook-Attempt", "77");
            AddHeader(m, "traceparent", "00-11111111111111111111111111111111-2222222222222222-01");
            m.Traceparent = traceparent;
        });

        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1, "the message to be acked");
        var request = Assert.Single(target.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/in", request.Path);
        Assert.Equal(body, request.Body);
        Assert.Equal("application/octet-stream", request.Header("Content-Type"));
        Assert.Equal("sha256=abc", request.Header("X-Signature"));
        Assert.Equal("caf\u00e9", request.Header("X-Latin"));
        Assert.Equal(body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), request.Header("Content-Length"));
        Assert.Equal($"127.0.0.1:{target.Port}", request.Header("Host"));
        foreach (var hop in new[] { "X-Per-Hop", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Authorization", "TE" })
        {
            Assert.Null(request.Header(hop));
        }

        Assert.Equal(message.MessageId, request.Header("X-Webhook-Message-Id"));
        Assert.Equal(channel, request.Header("X-Webhook-Channel"));
        Assert.Equal(channel, request.Header("X-Webhook-Endpoint"));
        Assert.Equal("1", Assert.Single(request.HeaderValues("X-Webhook-Attempt")));
        Assert.Equal(traceparent, Assert.Single(request.HeaderValues("traceparent")));
    }

    [Fact]
    public async Task RepeatedHeaderNamesReachTheTargetInOrderAsOneCommaJoinedField()
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("repeat");
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()), files: Configs.Token(token));

        // TestMessages adds X-Repeat twice: "a" and the bytes FF 80. HttpClient sends repeated names as one field,
        // values joined with ", " in order, which RFC 9110 §5.3 makes equivalent.
        await stack.PublishAsync(channel, channel, "{}"u8.ToArray());
        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1, "the message to be acked");
        Assert.Equal("a, \u00ff\u0080", Assert.Single(target.Requests).Header("X-Repeat"));
    }

    [Fact]
    public async Task EachEndpointGoesToItsOwnTargetOthersToTheDefaultAndWithoutATargetToTheDeadLetters()
    {
        await using var github = await TargetServer.StartAsync();
        await using var fallback = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("routing");
        var (other, otherToken) = await CreateNamedChannelAsync(channel + "-other");
        var config = $"""
            subscriptions:
              - channel: {channel}
                token_file: "{"{dir}"}/token"
                default_target:
                  url: "{fallback.Url("/default")}"
                targets:
                  github:
                    url: "{github.Url("/gh")}"
                    method: PUT
                    headers:
                      X-Api-Key: k1
                      X-Signature: replaced
              - channel: {other}
                token_file: "{"{dir}"}/token2"
                targets:
                  stripe:
                    url: "{fallback.Url("/stripe")}"
            """;
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, config,
            files: new Dictionary<string, string> { ["token"] = token, ["token2"] = otherToken });

        var toGithub = await stack.PublishAsync(channel, "github", "gh"u8.ToArray(), m => AddHeader(m, "X-Signature", "original"));
        var toDefault = await stack.PublishAsync(channel, "shopify", "shop"u8.ToArray());
        var orphan = await stack.PublishAsync(other, "github", "nobody"u8.ToArray());

        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 2, "both routed messages to be acked");
        await stack.WaitStatsAsync(other, s => s.DeadLetters == 1, "the message without a target to be dead-lettered");

        var gh = Assert.Single(github.Requests);
        Assert.Equal(("PUT", "/gh", "gh", toGithub.MessageId), (gh.Method, gh.Path, Encoding.UTF8.GetString(gh.Body), gh.MessageId));
        Assert.Equal("k1", gh.Header("X-Api-Key"));
        Assert.Equal("replaced", Assert.Single(gh.HeaderValues("X-Signature")));
        var shop = Assert.Single(fallback.Requests);
        Assert.Equal(("POST", "/default", toDefault.MessageId), (shop.Method, shop.Path, shop.MessageId));

        var dead = Assert.Single(await stack.DeadLettersAsync(other));
        Assert.Equal(orphan.MessageId, dead.Message.MessageId);
        Assert.Equal("no target for endpoint github", dead.LastError);
        Assert.Equal(1u, dead.Attempts);
    }

    [Fact]
    public async Task A2xxAnswerAcksTheMessage()
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(204);
        var (channel, token) = await stack.CreateChannelAsync("ok");
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()), files: Configs.Token(token));

        await stack.PublishManyAsync(channel, channel, 20);
        var stats = await stack.WaitStatsAsync(channel, s => s.AckedTotal == 20, "20 acks");
        Assert.Equal((0u, 0u, 0ul, 20ul), (stats.DeadLetters, stats.MessagesInFlight, stats.NackedTotal, stats.DeliveredTotal));
        Assert.Equal(20, target.Count);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(404)]
    [InlineData(422)]
    public async Task A4xxAnswerDeadLettersAtOnceWithTheStatusAndABodyExcerpt(int status)
    {
        await using var target = await TargetServer.StartAsync();
        var longBody = "rejected because " + new string('x', 400) + " END";
        target.Answer = _ => new TargetAnswer(status, longBody);
        var (channel, token) = await stack.CreateChannelAsync("reject");
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()), files: Configs.Token(token));

        var message = await stack.PublishAsync(channel, channel, "{}"u8.ToArray());
        await stack.WaitStatsAsync(channel, s => s.DeadLetters == 1, "the rejected message to be dead-lettered");

        Assert.Single(target.Requests); // no local retry for a 4xx
        var dead = Assert.Single(await stack.DeadLettersAsync(channel));
        Assert.Equal(message.MessageId, dead.Message.MessageId);
        Assert.Equal($"HTTP {status}: {longBody[..200]}", dead.LastError);
        Assert.Equal((uint)status, dead.LastStatusCode);
        Assert.Equal(Contracts.Admin.V1.DeadLetterReason.Rejected, dead.Reason);
        Assert.Equal(0ul, (await stack.StatsAsync(channel)).AckedTotal);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(408)]
    [InlineData(429)]
    public async Task ARetryableStatusIsRetriedLocallyThenNackedAndRedeliveredWithTheNextAttempt(int status)
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = request => request.Attempt == 1 ? new TargetAnswer(status, "busy") : new TargetAnswer(200);
        var (channel, token) = await stack.CreateChannelAsync("retry");
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()), ["--retry-attempts", "3"], files: Configs.Token(token));

        var message = await stack.PublishAsync(channel, channel, "{}"u8.ToArray());
        var stats = await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1, "the redelivered message to be acked");

        var calls = target.For(message.MessageId);
        Assert.Equal([1, 1, 1, 1, 2], calls.Select(c => c.Attempt)); // 1 call + 3 local retries, then the redelivery
        Assert.Equal((1ul, 2ul, 0u), (stats.NackedTotal, stats.DeliveredTotal, stats.DeadLetters));
    }

    [Fact]
    public async Task ATargetTimeoutIsRetriedLocallyThenNackedForRedelivery()
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = request => request.Attempt == 1 ? new TargetAnswer(200, Delay: TimeSpan.FromSeconds(30)) : new TargetAnswer(200);
        var (channel, token) = await stack.CreateChannelAsync("timeout");
        var config = Configs.Single(channel, target.Url()).Replace("timeout: \"00:00:05\"", "timeout: \"00:00:01\"", StringComparison.Ordinal);
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, config, ["--retry-attempts", "1"], files: Configs.Token(token));

        var message = await stack.PublishAsync(channel, channel, "{}"u8.ToArray());
        var stats = await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1, "the redelivered message to be acked");

        Assert.Equal([1, 1, 2], target.For(message.MessageId).Select(c => c.Attempt));
        Assert.Equal(1ul, stats.NackedTotal);
    }

    [Fact]
    public async Task ARefusedConnectionIsNackedWithRetryAndEndsInTheDeadLettersAfterMaxAttempts()
    {
        var closedPort = FreePort.Next();
        var (channel, token) = await stack.CreateChannelAsync("refused", new Dictionary<string, string> { ["max_delivery_attempts"] = "2" });
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, $"http://127.0.0.1:{closedPort}/hook"), files: Configs.Token(token));

        var message = await stack.PublishAsync(channel, channel, "{}"u8.ToArray());
        var stats = await stack.WaitStatsAsync(channel, s => s.DeadLetters == 1, "the message to be dead-lettered after 2 attempts");

        Assert.Equal((2ul, 2ul, 0ul), (stats.NackedTotal, stats.DeliveredTotal, stats.AckedTotal));
        var dead = Assert.Single(await stack.DeadLettersAsync(channel));
        Assert.Equal(message.MessageId, dead.Message.MessageId);
        Assert.Equal(Contracts.Admin.V1.DeadLetterReason.MaxAttempts, dead.Reason);
        Assert.StartsWith("connection failed: Connection refused", dead.LastError, StringComparison.Ordinal);
        Assert.Equal(0u, dead.LastStatusCode);
    }

    [Fact]
    public async Task TwoSubscriptionsInOneProcessEachDeliverTheirOwnChannelWithinTheirOwnMaxInFlight()
    {
        await using var slow = await TargetServer.StartAsync();
        await using var fast = await TargetServer.StartAsync();
        slow.Answer = _ => new TargetAnswer(200, Delay: TimeSpan.FromMilliseconds(200));
        var (first, firstToken) = await stack.CreateChannelAsync("two-a");
        var (second, secondToken) = await stack.CreateChannelAsync("two-b");
        var config = $"""
            subscriptions:
              - channel: {first}
                token_file: "{"{dir}"}/a"
                max_in_flight: 2
                default_target:
                  url: "{slow.Url()}"
              - channel: {second}
                token_env: SECOND_TOKEN
                max_in_flight: 20
                default_target:
                  url: "{fast.Url()}"
            """;
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, config,
            files: new Dictionary<string, string> { ["a"] = firstToken }, env: new Dictionary<string, string?> { ["SECOND_TOKEN"] = secondToken });

        var a = await stack.PublishManyAsync(first, first, 10);
        var b = await stack.PublishManyAsync(second, second, 30);
        await stack.WaitStatsAsync(first, s => s.AckedTotal == 10, "channel A acked");
        await stack.WaitStatsAsync(second, s => s.AckedTotal == 30, "channel B acked");

        Assert.Equal(a.Select(m => m.MessageId).Order(), slow.Requests.Select(r => r.MessageId).Order());
        Assert.Equal(b.Select(m => m.MessageId).Order(), fast.Requests.Select(r => r.MessageId).Order());
        Assert.Equal(2, slow.MaxConcurrent);
    }

    private async Task<(string Channel, string Token)> CreateNamedChannelAsync(string name) =>
        (name, await TestChannels.CreateAsync(stack.QueueManager.Internal, name, new Dictionary<string, string> { ["backoff_initial_ms"] = "50" }));

    private static void AddHeader(Message message, string name, string value) =>
        message.Headers.Add(new Header { Name = name, Value = ByteString.CopyFromUtf8(value) });
}

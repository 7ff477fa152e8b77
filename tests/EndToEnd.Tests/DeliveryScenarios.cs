using System.Net;
using System.Text.Json;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.EndToEnd.Tests;

/// <summary>SCENARIOS.md S1 (basic), S2 (queue while offline), S6 (multi-channel isolation), S7 (routing by endpoint).</summary>
public sealed class DeliveryScenarios
{
    [Fact]
    public async Task S1_TenWebhooksArriveOnceEachByteIdenticalWithTheirHeadersAndAreAcked()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"]);
        var target = await stack.StartTargetAsync();
        await stack.StartConnectorAsync("test-channel", token, target);

        var replies = new List<WebhookReply>();
        for (var i = 1; i <= 10; i++)
        {
            replies.Add(await stack.PostWebhookAsync("cloud-webhook", i, 10, new Dictionary<string, string> { ["X-Sender-Header"] = $"s1-{i}" }));
        }

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.All(replies, r => Assert.Equal("queued", r.Json.GetProperty("status").GetString()));
        Assert.All(replies, r => Assert.Equal(r.MessageId, r.MessageIdHeader));
        await Eventually.UntilAsync(() => target.Count >= 10, ScenarioStack.Patience, "10 deliveries at the target");
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal == 10, "10 acked");

        AssertDeliveredExactly(target, replies);
        foreach (var reply in replies)
        {
            var received = target.For(reply.MessageId).Single();
            var sequence = JsonDocument.Parse(reply.SentBody).RootElement.GetProperty("sequence").GetInt32();
            Assert.Equal($"s1-{sequence}", received.Header("X-Sender-Header"));
            Assert.Equal(sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), received.Header("X-Scenario-Sequence"));
            Assert.Equal("application/json", received.Header("Content-Type"));
            Assert.Equal("test-channel", received.Header("X-Webhook-Channel"));
            Assert.Equal("cloud-webhook", received.Header("X-Webhook-Endpoint"));
            Assert.Equal(1, received.Attempt);
        }

        Assert.Equal((0u, 0u, 10ul, 10ul, 1u), (stats.MessagesQueued, stats.MessagesInFlight, stats.DeliveredTotal, stats.AckedTotal, stats.Connections));
        Assert.Equal(10, target.Count);
    }

    [Fact]
    public async Task S2_WebhooksWaitWhileNoConnectorIsThereAndArriveInOrderWhenOneConnects()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"]);

        var replies = new List<WebhookReply>();
        for (var i = 1; i <= 10; i++)
        {
            replies.Add(await stack.PostWebhookAsync("cloud-webhook", i, 10));
        }

        var waiting = await stack.StatsAsync("test-channel");
        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.Equal((10u, 0ul, 0u), (waiting.MessagesQueued, waiting.DeliveredTotal, waiting.Connections));

        var target = await stack.StartTargetAsync();
        await stack.StartConnectorAsync("test-channel", token, target, extraYaml: "    max_in_flight: 1\n");
        await Eventually.UntilAsync(() => target.Count >= 10, ScenarioStack.Patience, "10 deliveries at the target");
        await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal == 10, "10 acked");

        AssertDeliveredExactly(target, replies);
        Assert.Equal(replies.Select(r => r.MessageId), target.Requests.Select(r => r.MessageId));
    }

    [Fact]
    public async Task S6_TwoChannelsWithTheirOwnConnectorsNeverSeeEachOthersWebhooks()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var alphaToken = await stack.CreateChannelAsync("channel-alpha", ["channel-alpha"]);
        var betaToken = await stack.CreateChannelAsync("channel-beta", ["channel-beta"]);
        var targetA = await stack.StartTargetAsync();
        var targetB = await stack.StartTargetAsync();
        await stack.StartConnectorAsync("channel-alpha", alphaToken, targetA);
        await stack.StartConnectorAsync("channel-beta", betaToken, targetB);

        var alpha = new List<WebhookReply>();
        var beta = new List<WebhookReply>();
        for (var i = 1; i <= 5; i++)
        {
            alpha.Add(await stack.PostWebhookAsync("channel-alpha", i, 5));
            beta.Add(await stack.PostWebhookAsync("channel-beta", i, 5));
        }

        await stack.WaitForStatsAsync("channel-alpha", s => s.AckedTotal == 5, "5 acked");
        await stack.WaitForStatsAsync("channel-beta", s => s.AckedTotal == 5, "5 acked");

        AssertDeliveredExactly(targetA, alpha);
        AssertDeliveredExactly(targetB, beta);
        Assert.All(targetA.Requests, r => Assert.Equal("channel-alpha", r.Header("X-Webhook-Channel")));
        Assert.All(targetB.Requests, r => Assert.Equal("channel-beta", r.Header("X-Webhook-Channel")));
    }

    [Fact]
    public async Task S7_TheConnectorRoutesOneEndpointToItsTargetAndTheRestToTheDefault()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var token = await stack.CreateChannelAsync("channel-alpha", ["alpha-orders", "alpha-users"]);
        var orders = await stack.StartTargetAsync();
        var fallback = await stack.StartTargetAsync();
        await stack.StartConnectorAsync("channel-alpha", token, fallback, new Dictionary<string, TargetServer> { ["alpha-orders"] = orders });

        var sentOrders = new List<WebhookReply>();
        var sentUsers = new List<WebhookReply>();
        for (var i = 1; i <= 3; i++)
        {
            sentOrders.Add(await stack.PostWebhookAsync("alpha-orders", i, 3));
            sentUsers.Add(await stack.PostWebhookAsync("alpha-users", i, 3));
        }

        await stack.WaitForStatsAsync("channel-alpha", s => s.AckedTotal == 6, "6 acked");

        AssertDeliveredExactly(orders, sentOrders);
        AssertDeliveredExactly(fallback, sentUsers);
        Assert.All(orders.Requests, r => Assert.Equal("alpha-orders", r.Header("X-Webhook-Endpoint")));
        Assert.All(fallback.Requests, r => Assert.Equal("alpha-users", r.Header("X-Webhook-Endpoint")));
    }

    /// <summary>The target got exactly these webhooks, once each, with byte-identical bodies and matching ids.</summary>
    internal static void AssertDeliveredExactly(TargetServer target, IReadOnlyList<WebhookReply> sent)
    {
        var received = target.Requests;
        Assert.Equal(sent.Select(s => s.MessageId).Order(StringComparer.Ordinal), received.Select(r => r.MessageId).Order(StringComparer.Ordinal));
        foreach (var reply in sent)
        {
            Assert.Equal(reply.SentBody, target.For(reply.MessageId).Single().Body);
        }

        var sequences = received.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("sequence").GetInt32()).Order().ToList();
        Assert.Equal(Enumerable.Range(1, sent.Count), sequences);
    }
}

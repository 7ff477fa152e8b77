using System.Globalization;
using System.Net;
using WebhookConnect.Contracts.V1;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.EndToEnd.Tests;

/// <summary>SCENARIOS.md S1 and S2 with our connector on each HTTP/1.1 protocol (SPEC §16): webhooks posted to ingress
/// while no connector is there arrive in order, once each, byte-identical with their headers, and are acked once.</summary>
public sealed class Http1ProtocolScenarios
{
    [Fact]
    public async Task S1_S2_OverWebSocketSseAndLongPollWebhooksWaitThenArriveInOrderOnceEachAndAreAckedOnce()
    {
        await using var stack = await ScenarioStack.StartAsync();
        string[] protocols = ["websocket", "sse", "long-poll"];
        var sent = new Dictionary<string, List<WebhookReply>>();
        var tokens = new Dictionary<string, string>();
        foreach (var protocol in protocols)
        {
            var channel = "h1-" + protocol;
            // One in flight at a time, so first deliveries keep the queue's order (SPEC §6).
            tokens[protocol] = await stack.CreateChannelAsync(channel, [channel], new ChannelSettings { MaxInFlight = 1 });
            sent[protocol] = [];
            for (var i = 1; i <= 5; i++)
            {
                sent[protocol].Add(await stack.PostWebhookAsync(channel, i, 5, new Dictionary<string, string> { ["X-Sender-Header"] = $"{protocol}-{i}" }));
            }
        }

        var http = "http://127.0.0.1:" + stack.QueueManager.HttpPort.ToString(CultureInfo.InvariantCulture);
        var targets = new Dictionary<string, TargetServer>();
        var connectors = new Dictionary<string, ConnectorProcess>();
        foreach (var protocol in protocols)
        {
            targets[protocol] = await stack.StartTargetAsync();
            connectors[protocol] = await stack.StartConnectorAsync("h1-" + protocol, tokens[protocol], targets[protocol],
                extraYaml: $"queue_manager:\n  protocol: {protocol}\n  http_address: \"{http}\"\n");
        }

        foreach (var protocol in protocols)
        {
            var channel = "h1-" + protocol;
            var stats = await stack.WaitForStatsAsync(channel, s => s.AckedTotal == 5, $"5 acked over {protocol}");
            var target = targets[protocol];
            Assert.All(sent[protocol], r => Assert.Equal(HttpStatusCode.OK, r.Status));
            DeliveryScenarios.AssertDeliveredExactly(target, sent[protocol]);
            Assert.True(
                sent[protocol].Select(r => r.MessageId).SequenceEqual(target.Requests.Select(r => r.MessageId)),
                $"over {protocol} the target got {string.Join(", ", target.Requests.Select(r => $"#{sent[protocol].FindIndex(s => s.MessageId == r.MessageId) + 1} attempt {r.Attempt}"))} (delivered_total {stats.DeliveredTotal}), not #1 to #5 in order");
            Assert.All(target.Requests, r => Assert.Equal($"{protocol}-{r.Header("X-Scenario-Sequence")}", r.Header("X-Sender-Header")));
            Assert.All(target.Requests, r => Assert.Equal("application/json", r.Header("Content-Type")));
            Assert.Equal((0u, 0u, 5ul, 5ul, 0ul), (stats.MessagesQueued, stats.MessagesInFlight, stats.DeliveredTotal, stats.AckedTotal, stats.NackedTotal));
            Assert.Contains($"webhookconnect_connector_protocol_info{{channel=\"{channel}\",protocol=\"{protocol}\"}} 1",
                await connectors[protocol].MetricsAsync(), StringComparison.Ordinal);
        }
    }
}

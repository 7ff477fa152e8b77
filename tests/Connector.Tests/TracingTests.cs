using Google.Protobuf;
using WebhookConnect.Connector.Tests.Support;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;
using WebhookConnect.TestKit.Otlp;

namespace WebhookConnect.Connector.Tests;

/// <summary>
/// The connector's part of one trace per webhook (docs/observability.md): with traces exported, a <c>process
/// {channel}</c> Consumer span per delivery under the message's <c>traceparent</c>, the HttpClient span under it, and
/// the target called with that HttpClient span as its parent. Without export, the target gets the message's own
/// <c>traceparent</c> (DeliveryTests).
/// </summary>
public sealed class TracingTests(QueueStack stack) : IClassFixture<QueueStack>
{
    private const string MessageTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string MessageSpan = "00f067aa0ba902b7";

    [Fact]
    public async Task WithTracesExportedTheTargetIsCalledUnderTheConnectorsPostSpanInsideItsDeliverySpan()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        await using var target = await TargetServer.StartAsync();
        target.Answer = r => r.Header("X-Case") == "reject" ? new TargetAnswer(404, "no such order") : new TargetAnswer(200);
        var (channel, token) = await stack.CreateChannelAsync("traced");
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url("/in")), files: Configs.Token(token), env: collector.ExportSettings().ToDictionary(e => e.Key, e => (string?)e.Value));

        // The sender's own traceparent header is replaced, as without export; the message's context is the parent.
        var acked = await stack.PublishAsync(channel, channel, "{}"u8.ToArray(), m => WithTraceContext(m, "accept"));
        var rejected = await stack.PublishAsync(channel, channel, "{}"u8.ToArray(), m => WithTraceContext(m, "reject"));
        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1 && s.DeadLetteredTotal == 1, "one acked, one dead-lettered");

        List<ExportedSpan> spans = [];
        await Eventually.UntilAsync(
            () => (spans = OtlpProtobuf.SpansIn(collector)).Count(s => s.Name == "process " + channel) == 2 &&
                spans.Count(s => s.Kind == OtlpProtobuf.SpanKindClient && s.Attributes.GetValueOrDefault("url.full") == target.Url("/in")) == 2,
            QueueManagerProcess.Patience,
            "two delivery spans and two POST spans at the collector");

        foreach (var (message, outcome, status) in new[] { (acked, "acked", "200"), (rejected, "rejected", "404") })
        {
            var delivery = Assert.Single(spans, s => s.Name == "process " + channel && s.Attributes["webhookconnect.message_id"] == message.MessageId);
            Assert.Equal((OtlpProtobuf.SpanKindConsumer, MessageTrace, MessageSpan), (delivery.Kind, delivery.TraceId.ToLowerInvariant(), delivery.ParentSpanId.ToLowerInvariant()));
            Assert.Equal((channel, channel, "1", outcome, status), (
                delivery.Attributes["webhookconnect.channel"], delivery.Attributes["webhookconnect.endpoint"], delivery.Attributes["webhookconnect.attempt"],
                delivery.Attributes["webhookconnect.outcome"], delivery.Attributes["http.response.status_code"]));

            var post = Assert.Single(spans, s => s.Kind == OtlpProtobuf.SpanKindClient && s.ParentSpanId == delivery.SpanId);
            Assert.Equal(("connector", "POST", target.Url("/in")), (post.ServiceName, post.Attributes["http.request.method"], post.Attributes["url.full"]));

            var received = Assert.Single(target.For(message.MessageId));
            Assert.Equal($"00-{MessageTrace}-{post.SpanId.ToLowerInvariant()}-01", Assert.Single(received.HeaderValues("traceparent")));
            Assert.Equal("vendor=1", received.Header("tracestate"));
        }
    }

    private static void WithTraceContext(Message message, string testCase)
    {
        message.Headers.Add(new Header { Name = "X-Case", Value = ByteString.CopyFromUtf8(testCase) });
        message.Headers.Add(new Header { Name = "traceparent", Value = ByteString.CopyFromUtf8("00-11111111111111111111111111111111-2222222222222222-01") });
        message.Traceparent = $"00-{MessageTrace}-{MessageSpan}-01";
        message.Tracestate = "vendor=1";
    }
}

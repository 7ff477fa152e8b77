using System.Net;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;
using WebhookConnect.TestKit.Otlp;

namespace WebhookConnect.EndToEnd.Tests;

/// <summary>
/// Issue 18, one trace per webhook: every service exports to one OTLP receiver, one webhook goes through ingress to a
/// real target and is acked, and the receiver holds its whole path as one trace, each span under the one expected
/// (docs/observability.md, "One trace per webhook").
/// </summary>
public sealed class TracingScenarios
{
    private const string Channel = "traced";
    private const string Endpoint = "traced-hook";

    [Fact]
    public async Task OneWebhookIsOneTraceFromIngressThroughPublishDeliveryAndTheTargetCallToTheAck()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        var (reply, received, trace) = await DeliverOneTracedWebhookAsync(collector, senderHeaders: null);

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        // ingress' span for the POST starts the trace (the sender sent no traceparent).
        Assert.Equal("", trace.IngressPost.ParentSpanId);
        trace.AssertChain(reply.MessageId);
        AssertTraceparent(received, trace.Id, trace.TargetPost.SpanId);
    }

    [Fact]
    public async Task WithASendersTraceparentTheWholeChainJoinsTheSendersTrace()
    {
        const string senderTrace = "0af7651916cd43dd8448eb211c80319c";
        const string senderSpan = "b7ad6b7169203331";
        await using var collector = await OtlpReceiver.StartAsync();
        var (reply, received, trace) = await DeliverOneTracedWebhookAsync(
            collector, new Dictionary<string, string> { ["traceparent"] = $"00-{senderTrace}-{senderSpan}-01" });

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal((senderTrace, senderSpan), (trace.Id, trace.IngressPost.ParentSpanId.ToLowerInvariant()));
        trace.AssertChain(reply.MessageId);
        AssertTraceparent(received, senderTrace, trace.TargetPost.SpanId);
    }

    /// <summary>The target saw the connector's POST span as its parent, sampled (the flags' low bit; .NET also sets
    /// W3C level 2's "random trace id" bit on trace ids it made).</summary>
    private static void AssertTraceparent(ReceivedRequest received, string traceId, string postSpanId)
    {
        var parts = (received.Header("traceparent") ?? "").Split('-');
        Assert.Equal(4, parts.Length);
        Assert.Equal(("00", traceId, postSpanId.ToLowerInvariant()), (parts[0], parts[1], parts[2]));
        Assert.Equal(1, Convert.ToInt32(parts[3], 16) & 1);
    }

    /// <summary>Starts the stack, a target and a connector, all exporting to <paramref name="collector"/>; posts one
    /// webhook, waits for its ack and for the spans of its path.</summary>
    private static async Task<(WebhookReply Reply, ReceivedRequest Received, WebhookTrace Trace)> DeliverOneTracedWebhookAsync(
        OtlpReceiver collector, IReadOnlyDictionary<string, string>? senderHeaders)
    {
        var otel = collector.ExportSettings();
        await using var stack = await ScenarioStack.StartAsync(serviceSettings: otel);
        var token = await stack.CreateChannelAsync(Channel, [Endpoint]);
        var target = await stack.StartTargetAsync();
        await stack.StartConnectorAsync(Channel, token, target, env: otel.ToDictionary(e => e.Key, e => (string?)e.Value));

        var reply = await stack.PostWebhookAsync(Endpoint, 1, 1, senderHeaders);
        await stack.WaitForStatsAsync(Channel, s => s.AckedTotal == 1, "the webhook acked");
        var received = Assert.Single(target.Requests);

        WebhookTrace? trace = null;
        await Eventually.UntilAsync(
            () => (trace = WebhookTrace.Find(OtlpProtobuf.SpansIn(collector), reply.MessageId, target.Url())) is not null,
            ScenarioStack.Patience,
            "ingress' POST, queue-manager's Publish, delivery and ack, the connector's delivery and its POST to the target at the collector");
        return (reply, received, trace!);
    }

    /// <summary>The spans of one webhook's path, each found by what it is (service, kind, name, message id), not
    /// by its parent, so the parent links can then be asserted.</summary>
    private sealed record WebhookTrace(
        IReadOnlyList<ExportedSpan> All,
        ExportedSpan IngressPost,
        ExportedSpan IngressPublish,
        ExportedSpan QueuePublish,
        ExportedSpan Delivery,
        ExportedSpan ConnectorDelivery,
        ExportedSpan TargetPost,
        ExportedSpan Ack)
    {
        public string Id => IngressPost.TraceId.ToLowerInvariant();

        public static WebhookTrace? Find(List<ExportedSpan> spans, string messageId, string targetUrl)
        {
            ExportedSpan? Of(string service, int kind, Func<ExportedSpan, bool> match) =>
                spans.FirstOrDefault(s => s.ServiceName == service && s.Kind == kind && match(s));
            bool About(ExportedSpan s) => s.Attributes.GetValueOrDefault("webhookconnect.message_id") == messageId;

            var post = Of("ingress", OtlpProtobuf.SpanKindServer, s => s.Attributes.GetValueOrDefault("url.path") == "/webhook/" + Endpoint);
            var publish = Of("ingress", OtlpProtobuf.SpanKindInternal, s => s.Name == "publish webhook" && About(s));
            var queuePublish = Of("queue-manager", OtlpProtobuf.SpanKindServer, s => s.Name.Contains("webhookconnect.v1.PublishService/Publish", StringComparison.Ordinal));
            var delivery = Of("queue-manager", OtlpProtobuf.SpanKindProducer, s => s.Name == "deliver " + Channel && About(s));
            var connectorDelivery = Of("connector", OtlpProtobuf.SpanKindConsumer, s => s.Name == "process " + Channel && About(s));
            var targetPost = Of("connector", OtlpProtobuf.SpanKindClient, s => s.Attributes.GetValueOrDefault("url.full") == targetUrl);
            var ack = Of("queue-manager", OtlpProtobuf.SpanKindInternal, s => s.Name == "ack " + Channel && About(s));
            return post is null || publish is null || queuePublish is null || delivery is null || connectorDelivery is null || targetPost is null || ack is null
                ? null
                : new WebhookTrace(spans, post, publish, queuePublish, delivery, connectorDelivery, targetPost, ack);
        }

        /// <summary>
        /// ingress POST (server) ─┬─ publish webhook ─ gRPC client span(s) ─ queue-manager Publish (server)
        ///                        └─ deliver (producer, queue-manager) ─┬─ process (consumer, connector) ─ POST to the target (client)
        ///                                                              └─ ack (queue-manager)
        /// </summary>
        public void AssertChain(string messageId)
        {
            Assert.All([IngressPublish, QueuePublish, Delivery, ConnectorDelivery, TargetPost, Ack], s => Assert.Equal(Id, s.TraceId.ToLowerInvariant()));
            Assert.Equal(IngressPost.SpanId, IngressPublish.ParentSpanId);

            // Between ingress' publish span and queue-manager's Publish: only ingress' gRPC/HTTP client spans.
            var hop = QueuePublish;
            var clientHops = 0;
            while (hop.ParentSpanId != IngressPublish.SpanId)
            {
                hop = Assert.Single(All, s => s.SpanId == hop.ParentSpanId);
                Assert.Equal(("ingress", OtlpProtobuf.SpanKindClient), (hop.ServiceName, hop.Kind));
                clientHops++;
            }

            Assert.InRange(clientHops, 1, 2);

            Assert.Equal(IngressPost.SpanId, Delivery.ParentSpanId);
            Assert.Equal((Channel, "1"), (Delivery.Attributes["webhookconnect.channel"], Delivery.Attributes["webhookconnect.attempt"]));
            Assert.NotEqual("", Delivery.Attributes["webhookconnect.connection_id"]);
            Assert.Equal(Delivery.SpanId, ConnectorDelivery.ParentSpanId);
            Assert.Equal(("acked", Endpoint), (ConnectorDelivery.Attributes["webhookconnect.outcome"], ConnectorDelivery.Attributes["webhookconnect.endpoint"]));
            Assert.Equal(ConnectorDelivery.SpanId, TargetPost.ParentSpanId);
            Assert.Equal(("POST", "200"), (TargetPost.Attributes["http.request.method"], TargetPost.Attributes["http.response.status_code"]));
            Assert.Equal(Delivery.SpanId, Ack.ParentSpanId);
            Assert.Equal(messageId, Ack.Attributes["webhookconnect.message_id"]);
        }
    }
}

using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;
using WebhookConnect.TestKit.Otlp;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>
/// With an OTLP endpoint configured, queue-manager exports the spans of its gRPC calls and of the Redis commands they
/// issue (OpenTelemetry.Instrumentation.StackExchangeRedis, fed the multiplexer from DI), and its part of the one
/// trace per webhook: a delivery span per message sent down a Connect stream and a span per ack or nack
/// (docs/observability.md, "One trace per webhook").
/// </summary>
public sealed class TracingTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task PublishAndItsRedisCommandsReachTheCollectorAsSpans()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint, collector.ExportSettings());
        var channel = TestChannels.UniqueName("traced");
        await TestChannels.CreateAsync(replica.Internal, channel);

        await replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "traced"));

        List<ExportedSpan> spans = [];
        await Eventually.UntilAsync(
            () =>
            {
                spans = [.. collector.Requests.Where(r => r.Path == "/v1/traces").SelectMany(r => OtlpProtobuf.ReadSpans(r.Body))];
                return spans.Any(IsPublish) && spans.Any(IsRedis);
            },
            Patience,
            "a Publish server span and a Redis command span at the collector");
        Assert.All(spans, s => Assert.Equal("queue-manager", s.ServiceName));
    }

    [Fact]
    public async Task RedisCommandsOfNoRequestSuchAsTheSweepsAreNotTraced()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint, collector.ExportSettings());
        var channel = TestChannels.UniqueName("quiet");
        await TestChannels.CreateAsync(replica.Internal, channel);

        // The sweeps run every second per channel; see several pass in Redis' own command counts.
        var before = await ScriptCallsAsync(redis);
        await Eventually.UntilAsync(async () => await ScriptCallsAsync(redis) >= before + 3, Patience, "three more Lua calls from queue-manager's sweeps");

        // A request afterwards: its spans are exported after any span that ended before it.
        await replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "quiet"));
        List<ExportedSpan> spans = [];
        await Eventually.UntilAsync(
            () =>
            {
                spans = OtlpProtobuf.SpansIn(collector);
                return spans.Any(IsPublish) && spans.Any(s => IsRedis(s) && s.ParentSpanId != "");
            },
            Patience,
            "the Publish span and its Redis command span at the collector");
        var roots = spans.Where(s => IsRedis(s) && s.ParentSpanId == "").Select(s => s.Name).ToList();
        Assert.True(roots.Count == 0, $"Redis commands of no request were traced: {string.Join(", ", roots)}");
    }

    private static async Task<long> ScriptCallsAsync(RedisServer redis)
    {
        var stats = await redis.ExecuteAsync("INFO", "commandstats") ?? "";
        return stats.Split('\n').Where(l => l.StartsWith("cmdstat_eval", StringComparison.Ordinal))
            .Sum(l => long.Parse(l[(l.IndexOf("calls=", StringComparison.Ordinal) + 6)..l.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>As ingress stores it: the W3C context of the span that accepted the webhook.</summary>
    private const string IngressTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string IngressSpanId = "00f067aa0ba902b7";

    [Fact]
    public async Task EachDeliveryIsASpanUnderTheStoredTraceparentAndItsAckOrNackIsASpanUnderTheDelivery()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint, collector.ExportSettings());
        var channel = TestChannels.UniqueName("traced");
        var token = await TestChannels.CreateAsync(replica.Internal, channel, new Dictionary<string, string> { ["backoff_initial_ms"] = "100" });
        var message = TestMessages.NewMessage(channel, "traced");
        message.Traceparent = $"00-{IngressTraceId}-{IngressSpanId}-01";
        message.Tracestate = "vendor=1";
        await replica.Internal.PublishAsync(message);
        await using var connector = await TestConnector.ConnectAsync(replica.Channel, channel, token);

        // First delivery: nacked with retry; the redelivery (attempt 2): acked.
        var first = (await connector.NextAsync()).Message;
        await connector.NackAsync(message.MessageId, retry: true, reason: "HTTP 503: busy", status: 503);
        var second = (await connector.NextAsync()).Message;
        await connector.AckAsync(message.MessageId);

        List<ExportedSpan> spans = [];
        await Eventually.UntilAsync(
            () =>
            {
                spans = OtlpProtobuf.SpansIn(collector);
                return spans.Count(s => s.Name == "deliver " + channel) == 2 && spans.Any(s => s.Name == "nack " + channel) &&
                    spans.FirstOrDefault(s => s.Name == "ack " + channel) is { } ack && spans.Any(s => IsRedis(s) && s.ParentSpanId == ack.SpanId);
            },
            Patience,
            "two delivery spans, a nack span, an ack span and the ack's Redis command at the collector");

        var deliveries = spans.Where(s => s.Name == "deliver " + channel).OrderBy(s => s.Attributes["webhookconnect.attempt"], StringComparer.Ordinal).ToList();
        foreach (var (delivery, attempt, delivered) in new[] { (deliveries[0], "1", first), (deliveries[1], "2", second) })
        {
            // Each delivery continues what ingress stored (the envelope in Redis is unchanged by the first delivery).
            Assert.Equal(OtlpProtobuf.SpanKindProducer, delivery.Kind);
            Assert.Equal((IngressTraceId, IngressSpanId), (delivery.TraceId.ToLowerInvariant(), delivery.ParentSpanId.ToLowerInvariant()));
            Assert.Equal(channel, delivery.Attributes["webhookconnect.channel"]);
            Assert.Equal(message.MessageId, delivery.Attributes["webhookconnect.message_id"]);
            Assert.Equal(attempt, delivery.Attributes["webhookconnect.attempt"]);
            Assert.Equal(connector.Subscribed.ConnectionId, delivery.Attributes["webhookconnect.connection_id"]);

            // The message on the stream carries the delivery span as its parent, so the connector continues from it.
            Assert.Equal($"00-{IngressTraceId}-{delivery.SpanId.ToLowerInvariant()}-01", delivered.Traceparent);
            Assert.Equal("vendor=1", delivered.Tracestate);
        }

        var nack = Assert.Single(spans, s => s.Name == "nack " + channel);
        Assert.Equal((OtlpProtobuf.SpanKindInternal, deliveries[0].TraceId, deliveries[0].SpanId), (nack.Kind, nack.TraceId, nack.ParentSpanId));
        Assert.Equal((message.MessageId, connector.Subscribed.ConnectionId, "true", "HTTP 503: busy", "503"), (
            nack.Attributes["webhookconnect.message_id"], nack.Attributes["webhookconnect.connection_id"], nack.Attributes["webhookconnect.retry"],
            nack.Attributes["webhookconnect.reason"], nack.Attributes["webhookconnect.target_status_code"]));

        var ack = Assert.Single(spans, s => s.Name == "ack " + channel);
        Assert.Equal((OtlpProtobuf.SpanKindInternal, deliveries[1].TraceId, deliveries[1].SpanId), (ack.Kind, ack.TraceId, ack.ParentSpanId));
        Assert.Equal((message.MessageId, channel), (ack.Attributes["webhookconnect.message_id"], ack.Attributes["webhookconnect.channel"]));
    }

    [Fact]
    public async Task WithoutAnExporterTheDeliveredMessageCarriesTheStoredTraceparentUnchanged()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("untraced");
        var token = await TestChannels.CreateAsync(replica.Internal, channel);
        var message = TestMessages.NewMessage(channel, "untraced");
        message.Traceparent = $"00-{IngressTraceId}-{IngressSpanId}-01";
        await replica.Internal.PublishAsync(message);
        await using var connector = await TestConnector.ConnectAsync(replica.Channel, channel, token);

        var delivered = (await connector.NextAsync()).Message;

        Assert.Equal(message.Traceparent, delivered.Traceparent);
    }

    private static bool IsPublish(ExportedSpan span) =>
        span.Kind == OtlpProtobuf.SpanKindServer && span.Name.Contains("webhookconnect.v1.PublishService/Publish", StringComparison.Ordinal);

    private static bool IsRedis(ExportedSpan span) =>
        span.Scope.Contains("StackExchangeRedis", StringComparison.Ordinal) && (span.Attributes.GetValueOrDefault("db.system") ?? span.Attributes.GetValueOrDefault("db.system.name")) == "redis";
}

using WebhookConnect.TestKit;
using WebhookConnect.TestKit.Otlp;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>
/// With an OTLP endpoint configured, queue-manager exports the spans of its gRPC calls and of the Redis commands they
/// issue (OpenTelemetry.Instrumentation.StackExchangeRedis, fed the multiplexer from DI).
/// </summary>
public sealed class TracingTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task PublishAndItsRedisCommandsReachTheCollectorAsSpans()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint, new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        });
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

    private static bool IsPublish(ExportedSpan span) =>
        span.Kind == OtlpProtobuf.SpanKindServer && span.Name.Contains("webhookconnect.v1.PublishService/Publish", StringComparison.Ordinal);

    private static bool IsRedis(ExportedSpan span) =>
        span.Scope.Contains("StackExchangeRedis", StringComparison.Ordinal) && (span.Attributes.GetValueOrDefault("db.system") ?? span.Attributes.GetValueOrDefault("db.system.name")) == "redis";
}

using System.Diagnostics;
using System.Net;
using WebhookConnect.Connector.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests;

/// <summary>SPEC §9 stream lifecycle: reconnect after a queue-manager restart, refusals retried slowly, readiness.</summary>
public sealed class StreamLifecycleTests(QueueStack stack) : IClassFixture<QueueStack>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task AfterAQueueManagerRestartTheStreamResumesWithinTwoSecondsAndNothingIsLost()
    {
        await using var redis = await RedisServer.StartAsync();
        var port = FreePort.Next();
        var internalPort = FreePort.Next();
        var first = await QueueManagerProcess.StartAsync(redis.Endpoint, QueueStack.QueueManagerSettings, "qm-first", port, internalPort);
        QueueManagerProcess? second = null;
        try
        {
            var channel = TestChannels.UniqueName("restart");
            var token = await TestChannels.CreateAsync(first.Internal, channel, new Dictionary<string, string> { ["backoff_initial_ms"] = "50" });
            await using var target = await TargetServer.StartAsync();
            // The backoff bound is capped at 1 s here so the measurement is about the reconnect path, not about
            // where the jittered sequence happens to be; the policy itself is BackoffTests' subject.
            await using var connector = await ConnectorProcess.StartReadyAsync(port, Configs.Single(channel, target.Url()),
                ["--set", "reconnect:initial_delay=00:00:00.5", "--set", "reconnect:max_delay=00:00:01"], Configs.Token(token));
            for (var i = 0; i < 5; i++)
            {
                await first.Internal.PublishAsync(TestMessages.NewMessage(channel, $"before-{i}"));
            }

            await Eventually.UntilAsync(() => target.Count == 5, Patience, "5 deliveries before the restart");

            first.Process.Signal(ChildProcess.SigKill);
            await first.Process.WaitForExitAsync(Patience);
            await Eventually.UntilAsync(async () => await connector.ReadyStatusAsync() == HttpStatusCode.ServiceUnavailable, Patience, "/readyz to report the lost stream");

            second = await QueueManagerProcess.StartAsync(redis.Endpoint, QueueStack.QueueManagerSettings, "qm-second", port, internalPort);
            var serving = Stopwatch.StartNew();
            await connector.WaitReadyAsync();
            var resumed = serving.Elapsed;

            for (var i = 0; i < 5; i++)
            {
                await second.Internal.PublishAsync(TestMessages.NewMessage(channel, $"after-{i}"));
            }

            await Eventually.UntilAsync(() => target.Requests.Count(r => r.Body.AsSpan().StartsWith("after-"u8)) == 5, Patience, "5 deliveries after the restart");
            Assert.True(resumed < TimeSpan.FromSeconds(2), $"the stream resumed {resumed.TotalMilliseconds:0} ms after queue-manager served again");
            Assert.Contains("Subscribed to channel " + channel, connector.Process.Output, StringComparison.Ordinal);
        }
        finally
        {
            await first.DisposeAsync();
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AWrongTokenIsReportedLoudlyRetriedSlowlyAndTheFixedTokenFileIsPickedUpWithoutARestart()
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("auth");
        const string wrong = "wrong-token-0123456789abcdef";
        var slow = TimeSpan.FromSeconds(2);
        await using var connector = ConnectorProcess.Start(stack.Port, Configs.Single(channel, target.Url()),
            ["--set", "reconnect:auth_failure_delay=00:00:02"], Configs.Token(wrong));

        var refused = $"QUEUE-MANAGER REFUSED channel {channel}: Unauthenticated";
        await connector.Process.WaitForLineAsync(line => line.Contains(refused, StringComparison.Ordinal), Patience);
        var firstRefusal = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await connector.ReadyStatusAsync());
        await Eventually.UntilAsync(() => Count(connector.Process.Output, refused) >= 2, Patience, "a second refusal");
        var between = firstRefusal.Elapsed;

        connector.WriteFile("token", token);
        await connector.WaitReadyAsync();
        var message = await stack.PublishAsync(channel, channel, "{}"u8.ToArray());
        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1, "the message to be acked with the fixed token");

        // Slow: the second attempt waited the auth-failure delay (minus observation slack), not the ordinary backoff
        // (bound 0.2 s, then 0.4 s, in this configuration).
        Assert.True(between >= slow - TimeSpan.FromMilliseconds(700), $"refusals {between.TotalMilliseconds:0} ms apart");
        Assert.Equal(message.MessageId, Assert.Single(target.Requests).MessageId);
        Assert.DoesNotContain(wrong, connector.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(token, connector.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterARefusalAChangedTokenFileIsUsedAtOnceWithoutWaitingTheAuthFailureDelay()
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("auth-fixed");
        await using var connector = ConnectorProcess.Start(stack.Port, Configs.Single(channel, target.Url()),
            ["--set", "reconnect:auth_failure_delay=00:05:00"], Configs.Token("wrong-token-0123456789abcdef"));
        await connector.Process.WaitForLineAsync(line => line.Contains($"QUEUE-MANAGER REFUSED channel {channel}: Unauthenticated", StringComparison.Ordinal), Patience);

        connector.WriteFile("token", token);
        var fixedAt = Stopwatch.StartNew();
        await connector.WaitReadyAsync(TimeSpan.FromSeconds(60));

        // Far below the 5-minute delay: the token is checked every half second while waiting.
        Assert.True(fixedAt.Elapsed < TimeSpan.FromSeconds(30), $"ready {fixedAt.Elapsed} after the token file was fixed");
        await connector.Process.WaitForLineAsync(line => line.Contains($"The token of channel {channel} changed; reconnecting now", StringComparison.Ordinal), Patience);
        await stack.PublishAsync(channel, channel, "{}"u8.ToArray());
        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1, "a message acked with the fixed token");
    }

    [Fact]
    public async Task AnUnknownChannelIsReportedLoudlyAsNotFoundAndTheConnectorStaysUnready()
    {
        await using var target = await TargetServer.StartAsync();
        var missing = TestChannels.UniqueName("missing");
        await using var connector = ConnectorProcess.Start(stack.Port, Configs.Single(missing, target.Url()), files: Configs.Token("some-token-0123456789"));

        await connector.Process.WaitForLineAsync(line => line.Contains($"QUEUE-MANAGER REFUSED channel {missing}: NotFound", StringComparison.Ordinal), Patience);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await connector.ReadyStatusAsync());
        Assert.False(connector.Process.HasExited);
    }

    [Fact]
    public async Task ReadinessNeedsEveryStreamAndMetricsShowStreamsDeliveriesAndTargetDurations()
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("metrics");
        var missing = TestChannels.UniqueName("absent");
        var config = $"""
            subscriptions:
              - channel: {channel}
                token_file: "{"{dir}"}/token"
                default_target:
                  url: "{target.Url()}"
              - channel: {missing}
                token_file: "{"{dir}"}/token"
                default_target:
                  url: "{target.Url()}"
            """;
        await using var connector = ConnectorProcess.Start(stack.Port, config, files: Configs.Token(token));
        await Eventually.UntilAsync(async () => (await connector.MetricsAsync()).Contains($"webhookconnect_connector_stream_up{{channel=\"{channel}\"}} 1", StringComparison.Ordinal),
            Patience, "the first stream to be up");
        await stack.PublishManyAsync(channel, channel, 3);
        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 3, "3 acks");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, await connector.ReadyStatusAsync());
        var metrics = await connector.MetricsAsync();
        Assert.Contains($"webhookconnect_connector_stream_up{{channel=\"{missing}\"}} 0", metrics, StringComparison.Ordinal);
        await Eventually.UntilAsync(async () => (await connector.MetricsAsync()).Contains($"webhookconnect_connector_deliveries_total{{channel=\"{channel}\",outcome=\"acked\"}} 3", StringComparison.Ordinal),
            Patience, "the acked counter to reach 3");
        Assert.Contains($"webhookconnect_connector_target_duration_seconds_count{{channel=\"{channel}\",outcome=\"acked\"}} 3", await connector.MetricsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PingsAreAnsweredSoAnIdleStreamOutlivesManyHeartbeatIntervals()
    {
        // queue-manager drops a connection that leaves two heartbeat intervals without a Pong (SPEC §7).
        await using var redis = await RedisServer.StartAsync();
        await using var queueManager = await QueueManagerProcess.StartAsync(redis.Endpoint, new Dictionary<string, string> { ["QueueManager:HeartbeatInterval"] = "00:00:01" });
        var channel = TestChannels.UniqueName("idle");
        var token = await TestChannels.CreateAsync(queueManager.Internal, channel);
        await using var target = await TargetServer.StartAsync();
        await using var connector = await ConnectorProcess.StartReadyAsync(queueManager.GrpcPort, Configs.Single(channel, target.Url()), files: Configs.Token(token));
        var admin = new Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient(queueManager.Internal.Channel);

        async Task<Contracts.Admin.V1.Connection> OnlyConnectionAsync() =>
            Assert.Single((await admin.ListConnectionsAsync(new Contracts.Admin.V1.ListConnectionsRequest { Channel = channel })).Connections);

        var first = await OnlyConnectionAsync();
        Contracts.Admin.V1.Connection current = first;
        await Eventually.UntilAsync(
            async () => (current = await OnlyConnectionAsync()).ConnectionId != first.ConnectionId ||
                DateTimeOffset.UtcNow - first.ConnectedAt.ToDateTimeOffset() > TimeSpan.FromSeconds(5),
            Patience,
            "the connection to live 5 s (5 heartbeat intervals) or be replaced");

        Assert.Equal(first.ConnectionId, current.ConnectionId);
        Assert.Equal(1, Count(connector.Process.Output, "Subscribed to channel " + channel));
        Assert.Equal(HttpStatusCode.OK, await connector.ReadyStatusAsync());
    }

    private static int Count(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}

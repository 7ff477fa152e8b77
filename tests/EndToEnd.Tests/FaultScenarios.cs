using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Google.Protobuf.WellKnownTypes;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.EndToEnd.Tests;

/// <summary>SCENARIOS.md S10: a queue-manager replica, Redis, ingress and the connector each fail while webhooks flow.</summary>
public sealed class FaultScenarios(ITestOutputHelper output)
{
    private static ChannelSettings Settings(TimeSpan ackTimeout) => new()
    {
        AckTimeout = Duration.FromTimeSpan(ackTimeout),
        RetryBackoff = new RetryBackoff
        {
            Initial = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(100)),
            Max = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(200)),
            Jitter = 0,
        },
    };

    [Fact]
    public async Task S10_AQueueManagerReplicaKilledWhileAThousandWebhooksFlowLosesNoneAndDuplicatesOnlyWhatWasInFlight()
    {
        const int total = 1000;
        const int maxInFlight = 20;
        await using var stack = await ScenarioStack.StartAsync(queueManagerReplicas: 2);
        var (first, second) = (stack.QueueManagers[0], stack.QueueManagers[1]);
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], Settings(TimeSpan.FromSeconds(3)));
        var target = await stack.StartTargetAsync();
        var connector = await stack.StartConnectorAsync("test-channel", token, target, extraYaml: $"    max_in_flight: {maxInFlight}\n");
        await connector.Process.WaitForLineAsync(line => line.Contains($"on replica {first.ReplicaId}", StringComparison.Ordinal), ScenarioStack.Patience);

        // Four senders post 1 000 webhooks; the replica everything is connected to dies a quarter of the way through delivery.
        var replies = new ConcurrentBag<WebhookReply>();
        var senders = SendConcurrently(stack, "cloud-webhook", total, replies);
        await Eventually.UntilAsync(() => target.Count >= total / 4, ScenarioStack.Patience, $"{total / 4} deliveries before the kill");
        first.Process.Signal(ChildProcess.SigKill);
        var killed = Stopwatch.StartNew();
        await connector.Process.WaitForLineAsync(line => line.Contains($"on replica {second.ReplicaId}", StringComparison.Ordinal), ScenarioStack.Patience);
        var reconnect = killed.Elapsed;
        await first.Process.WaitForExitAsync(ScenarioStack.Patience);
        await Task.WhenAll(senders).WaitAsync(ScenarioStack.Patience);

        // Every webhook was accepted: queued (200) or, while ingress had no queue-manager, spooled (202).
        Assert.Equal(total, replies.Count);
        Assert.All(replies, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.Accepted, $"webhook {r.MessageIdHeader}: {r.Status}"));
        Assert.Equal(total, replies.Select(r => r.MessageId).Distinct().Count());
        Assert.True(reconnect < TimeSpan.FromSeconds(2), $"the connector re-subscribed on {second.ReplicaId} {reconnect} after the kill");

        var ids = replies.Select(r => r.MessageId).ToHashSet();
        await Eventually.UntilAsync(() => ids.IsSubsetOf(target.Requests.Select(r => r.MessageId)), ScenarioStack.Patience, "every webhook at the target");
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal >= total, $"{total} acked", whileRecovering: true);

        // Each webhook arrived byte-identical. Only messages leased to the connector by the killed replica (at most
        // max_in_flight) come again, as attempt 2 after their lease expired; every other one arrived exactly once.
        var received = target.Requests;
        Assert.Equal(ids, received.Select(r => r.MessageId).ToHashSet());
        var redelivered = received.Where(r => r.Attempt > 1).Select(r => r.MessageId).ToHashSet();
        foreach (var reply in replies)
        {
            var copies = received.Where(r => r.MessageId == reply.MessageId).ToList();
            Assert.All(copies, c => Assert.Equal(reply.SentBody, c.Body));
            Assert.InRange(copies.Count(c => c.Attempt == 1), redelivered.Contains(reply.MessageId) ? 0 : 1, 1);
            Assert.InRange(copies.Count(c => c.Attempt > 1), 0, 1);
        }

        output.WriteLine($"reconnected in {reconnect.TotalMilliseconds:0} ms; {replies.Count(r => r.Status == HttpStatusCode.Accepted)} of {total} answered 202 (spooled); " +
            $"{redelivered.Count} redelivered, {received.Count - total} duplicate arrivals; forwarded connections per replica: {string.Join(", ", stack.Forwarder!.Connections)}");
        Assert.InRange(redelivered.Count, 0, maxInFlight);
        Assert.Equal((ulong)redelivered.Count, stats.LeaseExpiredTotal);
        Assert.Equal((ulong)total, stats.AckedTotal);
        Assert.Equal((0u, 0u, 0u), (stats.MessagesQueued, stats.MessagesInFlight, stats.DeadLetters));
        Assert.True(await NothingMoreAsync(target, received.Count), "no delivery after everything was acked");
    }

    [Fact]
    public async Task S10_TwoReplicasBalancedByTheClientsShareTheWorkAndOneKilledMidPublishLosesNothing()
    {
        const int total = 600;
        await using var stack = await ScenarioStack.StartAsync(queueManagerReplicas: 2, clientBalancing: true);
        var (first, second) = (stack.QueueManagers[0], stack.QueueManagers[1]);
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], Settings(TimeSpan.FromSeconds(3)));
        var target = await stack.StartTargetAsync();
        var connector = await stack.StartConnectorAsync("test-channel", token, target);

        // Connector streams: each new stream is the balancer's next pick, so two reconnects in a row (after an
        // operator's disconnect) land on both replicas once both connections are up.
        var holders = new HashSet<string>();
        for (var round = 0; round < 4 && holders.Count < 2; round++)
        {
            Connection? connection = null;
            await Eventually.UntilAsync(
                async () => (connection = (await stack.AdminClient.ListConnectionsAsync(new ListConnectionsRequest { Channel = "test-channel" }, ScenarioStack.AdminHeaders)).Connections.SingleOrDefault()) is not null,
                ScenarioStack.Patience,
                "the connector's stream");
            holders.Add(connection!.ReplicaId);
            if (holders.Count < 2)
            {
                await stack.AdminClient.DisconnectConnectionAsync(
                    new DisconnectConnectionRequest { Channel = "test-channel", ConnectionId = connection.ConnectionId }, ScenarioStack.AdminHeaders);
                await Eventually.UntilAsync(
                    async () => (await stack.AdminClient.ListConnectionsAsync(new ListConnectionsRequest { Channel = "test-channel" }, ScenarioStack.AdminHeaders)).Connections
                        .Any(c => c.ConnectionId != connection.ConnectionId),
                    ScenarioStack.Patience,
                    "the connector to subscribe again");
            }
        }

        // Publishes: four senders; once a quarter has been delivered, one replica is killed while publishes are in flight.
        var replies = new ConcurrentBag<WebhookReply>();
        var senders = SendConcurrently(stack, "cloud-webhook", total, replies);
        await Eventually.UntilAsync(() => target.Count >= total / 4, ScenarioStack.Patience, $"{total / 4} deliveries before the kill");
        var publishedBeforeKill = (await PublishCountAsync(first), await PublishCountAsync(second));
        first.Process.Signal(ChildProcess.SigKill);
        await first.Process.WaitForExitAsync(ScenarioStack.Patience);
        await Task.WhenAll(senders).WaitAsync(ScenarioStack.Patience);

        var ids = replies.Select(r => r.MessageId).ToHashSet();
        await Eventually.UntilAsync(() => ids.IsSubsetOf(target.Requests.Select(r => r.MessageId)), ScenarioStack.Patience, "every webhook at the target");
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal >= total, $"{total} acked", whileRecovering: true);
        output.WriteLine($"stream holders {string.Join(", ", holders)}; publishes before the kill {publishedBeforeKill}; " +
            $"{replies.Count(r => r.Status == HttpStatusCode.Accepted)} of {total} answered 202; {target.Requests.Count(r => r.Attempt > 1)} redelivered");

        Assert.Equal([first.ReplicaId, second.ReplicaId], holders.Order());
        Assert.True(publishedBeforeKill.Item1 > 0 && publishedBeforeKill.Item2 > 0, $"publishes per replica before the kill: {publishedBeforeKill}");
        Assert.Equal(total, replies.Count);
        Assert.All(replies, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.Accepted, $"webhook {r.MessageIdHeader}: {r.Status}"));
        Assert.Equal(total, ids.Count);
        Assert.Equal(ids, target.Requests.Select(r => r.MessageId).ToHashSet());
        Assert.All(replies, r => Assert.All(target.Requests.Where(q => q.MessageId == r.MessageId), q => Assert.Equal(r.SentBody, q.Body)));
        Assert.Equal((ulong)total, stats.AckedTotal);
        Assert.Equal((0u, 0u, 0u), (stats.MessagesQueued, stats.MessagesInFlight, stats.DeadLetters));
    }

    /// <summary>Four senders post webhooks 1..<paramref name="total"/> to <paramref name="endpoint"/>, collecting the replies.</summary>
    private static Task[] SendConcurrently(ScenarioStack stack, string endpoint, int total, ConcurrentBag<WebhookReply> replies)
    {
        var next = 0;
        return [.. Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            int sequence;
            while ((sequence = Interlocked.Increment(ref next)) <= total)
            {
                replies.Add(await stack.PostWebhookAsync(endpoint, sequence, total));
            }
        }))];
    }

    /// <summary>Publishes this replica has handled: the count of its publish-duration histogram on /metrics.</summary>
    private static async Task<double> PublishCountAsync(QueueManagerProcess replica)
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{replica.ManagementPort}/metrics"));
        return text.Split('\n')
            .Where(line => line.StartsWith("webhookconnect_publish_duration_seconds_count", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task S10_RedisStoppedWhileTwentyWebhooksArriveDeliversAllTwentyExactlyOnceAfterItReturns()
    {
        await using var stack = await ScenarioStack.StartAsync(redisAppendOnly: true);
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], Settings(TimeSpan.FromSeconds(30)));
        var target = await stack.StartTargetAsync();
        await stack.StartConnectorAsync("test-channel", token, target);

        var replies = new List<WebhookReply>();
        for (var i = 1; i <= 5; i++)
        {
            replies.Add(await stack.PostWebhookAsync("cloud-webhook", i, 20));
        }

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal == 5, "the first 5 acked");
        await stack.Redis.StopAsync();
        for (var i = 6; i <= 20; i++)
        {
            replies.Add(await stack.PostWebhookAsync("cloud-webhook", i, 20));
        }

        Assert.All(replies[5..], r => Assert.Equal(HttpStatusCode.Accepted, r.Status));
        Assert.All(replies[5..], r => Assert.Equal("accepted", r.Json.GetProperty("status").GetString()));
        Assert.Equal(5, target.Count);
        await stack.Redis.RestartAsync();

        await Eventually.UntilAsync(() => target.Count >= 20, ScenarioStack.Patience, "20 deliveries at the target");
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal >= 20, "20 acked", whileRecovering: true);
        AssertEachOnce(target, replies);
        Assert.Equal((20ul, 0u, 0u), (stats.AckedTotal, stats.MessagesQueued, stats.MessagesInFlight));
        Assert.True(await NothingMoreAsync(target, 20), "no delivery after all 20 were acked");
    }

    [Fact]
    public async Task S10_AnIngressKilledWithAFullSpoolWhileRedisIsDownDeliversTheSpooledWebhooksAfterBothReturn()
    {
        await using var stack = await ScenarioStack.StartAsync(redisAppendOnly: true);
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], Settings(TimeSpan.FromSeconds(30)));
        var target = await stack.StartTargetAsync();
        await stack.StartConnectorAsync("test-channel", token, target);

        await stack.Redis.StopAsync();
        var replies = new List<WebhookReply>();
        for (var i = 1; i <= 10; i++)
        {
            replies.Add(await stack.PostWebhookAsync("cloud-webhook", i, 10));
        }

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.Accepted, r.Status));
        await stack.KillIngressAsync();
        await stack.Redis.RestartAsync();
        await stack.WaitForStatsAsync("test-channel", _ => true, "the queue-manager to reach Redis again", whileRecovering: true);
        Assert.Equal(0, target.Count);
        await stack.RestartIngressAsync();

        await Eventually.UntilAsync(() => target.Count >= 10, ScenarioStack.Patience, "the 10 spooled webhooks at the target");
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal >= 10, "10 acked", whileRecovering: true);
        AssertEachOnce(target, replies);
        Assert.Equal((10ul, 10ul, 0u), (stats.PublishedTotal, stats.AckedTotal, stats.MessagesQueued));
        Assert.True(await NothingMoreAsync(target, 10), "no delivery after all 10 were acked");
    }

    [Fact]
    public async Task S10_AConnectorKilledMidDeliveryHasEveryUnfinishedWebhookRedeliveredAndNothingLost()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], Settings(TimeSpan.FromSeconds(10)));

        // First attempts hang at the target until the connector is gone; redeliveries are answered at once.
        var target = await stack.StartTargetAsync();
        target.Answer = request => request.Attempt == 1 ? new TargetAnswer(200, Delay: TimeSpan.FromMinutes(2)) : new TargetAnswer(200);
        var doomed = await stack.StartConnectorAsync("test-channel", token, target);
        var replies = new List<WebhookReply>();
        for (var i = 1; i <= 5; i++)
        {
            replies.Add(await stack.PostWebhookAsync("cloud-webhook", i, 5));
        }

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        await Eventually.UntilAsync(() => target.Count == 5, ScenarioStack.Patience, "all 5 first attempts in progress at the target");
        doomed.Process.Signal(ChildProcess.SigKill);
        await doomed.Process.WaitForExitAsync(ScenarioStack.Patience);
        Assert.Equal(0ul, (await stack.StatsAsync("test-channel")).AckedTotal);

        await stack.StartConnectorAsync("test-channel", token, target);
        await Eventually.UntilAsync(() => target.Count >= 10, ScenarioStack.Patience, "5 redeliveries at the target");
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal >= 5, "5 acked");

        foreach (var reply in replies)
        {
            var copies = target.For(reply.MessageId);
            Assert.Equal([1, 2], copies.Select(c => c.Attempt).Order().ToArray());
            Assert.All(copies, c => Assert.Equal(reply.SentBody, c.Body));
        }

        Assert.Equal((5ul, 0u, 0u, 0u), (stats.AckedTotal, stats.MessagesQueued, stats.MessagesInFlight, stats.DeadLetters));
        Assert.True(await NothingMoreAsync(target, 10), "no delivery after all 5 were acked");
    }

    /// <summary>Every reply's webhook arrived exactly once, byte-identical.</summary>
    private static void AssertEachOnce(TargetServer target, IReadOnlyList<WebhookReply> replies)
    {
        Assert.Equal(replies.Count, target.Count);
        foreach (var reply in replies)
        {
            Assert.Equal(reply.SentBody, Assert.Single(target.For(reply.MessageId)).Body);
        }
    }

    /// <summary>True when the target's request count stays at <paramref name="count"/> for a second.</summary>
    private static async Task<bool> NothingMoreAsync(TargetServer target, int count)
    {
        var quiet = Stopwatch.StartNew();
        while (quiet.Elapsed < TimeSpan.FromSeconds(1))
        {
            if (target.Count != count)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return target.Count == count;
    }
}

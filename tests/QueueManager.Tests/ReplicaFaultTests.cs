using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>SPEC §2 and §11: several queue-manager processes on one Redis, replicas killed, Redis restarted.</summary>
public sealed class ReplicaFaultTests
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task MaxConnectionsIsGlobalAcrossTwoReplicas()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await QueueManagerProcess.StartAsync(redis.Endpoint);
        await using var b = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("global-limit");
        var token = await TestChannels.CreateAsync(a.Internal, channel, new Dictionary<string, string> { ["max_connections"] = "2" });

        await using var onA = await TestConnector.ConnectAsync(a.Channel, channel, token);
        await using var onB = await TestConnector.ConnectAsync(b.Channel, channel, token);
        var refusedA = await Assert.ThrowsAsync<RpcException>(() => TestConnector.ConnectAsync(a.Channel, channel, token));
        var refusedB = await Assert.ThrowsAsync<RpcException>(() => TestConnector.ConnectAsync(b.Channel, channel, token));

        Assert.Equal(StatusCode.ResourceExhausted, refusedA.StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, refusedB.StatusCode);
        Assert.Equal(a.ReplicaId, onA.Subscribed.ReplicaId);
        Assert.Equal(b.ReplicaId, onB.Subscribed.ReplicaId);
    }

    [Fact]
    public async Task AnAdminDisconnectOnOneReplicaClosesTheStreamHeldByTheOther()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await QueueManagerProcess.StartAsync(redis.Endpoint);
        await using var b = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("remote-disconnect");
        var token = await TestChannels.CreateAsync(a.Internal, channel);
        await using var onB = await TestConnector.ConnectAsync(b.Channel, channel, token);

        var adminOnA = new QueueAdminService.QueueAdminServiceClient(a.Internal.Channel);
        var listed = (await adminOnA.ListConnectionsAsync(new ListConnectionsRequest())).Connections.Single(c => c.Channel == channel);
        var response = await adminOnA.DisconnectConnectionAsync(new DisconnectConnectionRequest { ConnectionId = listed.ConnectionId, Reason = "moved" });

        Assert.Equal(b.ReplicaId, listed.ReplicaId);
        Assert.Equal(b.ReplicaId, response.ReplicaId);
        var status = await onB.Ended.WaitAsync(Patience);
        Assert.Equal(StatusCode.Aborted, status.StatusCode);
        Assert.Contains("moved", status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectionsOnTwoReplicasShareMessagesWithoutDoubleDeliveryAndStatsAgree()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await QueueManagerProcess.StartAsync(redis.Endpoint);
        await using var b = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("share-replicas");
        var token = await TestChannels.CreateAsync(a.Internal, channel, new Dictionary<string, string> { ["max_in_flight"] = "10" });
        await using var onA = await TestConnector.ConnectAsync(a.Channel, channel, token);
        await using var onB = await TestConnector.ConnectAsync(b.Channel, channel, token);
        const int Count = 300;

        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < Count; i++)
            {
                await (i % 2 == 0 ? a : b).Internal.PublishAsync(TestMessages.NewMessage(channel, $"m{i}"));
            }
        });
        var seen = new System.Collections.Concurrent.ConcurrentBag<(string Id, uint Attempt, string Replica)>();
        async Task DrainAsync(TestConnector connector, string replica)
        {
            while (true)
            {
                Contracts.V1.Delivery delivery;
                try
                {
                    delivery = await connector.NextAsync(TimeSpan.FromSeconds(5));
                }
                catch (TimeoutException)
                {
                    return;
                }

                seen.Add((delivery.Message.MessageId, delivery.Message.Attempt, replica));
                await connector.AckAsync(delivery.Message.MessageId);
            }
        }

        await Task.WhenAll(publishing, DrainAsync(onA, "a"), DrainAsync(onB, "b"));

        Assert.Equal(Count, seen.Count);
        Assert.Equal(Count, seen.Select(s => s.Id).Distinct().Count());
        Assert.All(seen, s => Assert.Equal(1u, s.Attempt));
        Assert.Contains(seen, s => s.Replica == "a");
        Assert.Contains(seen, s => s.Replica == "b");
        var fromA = (await new QueueAdminService.QueueAdminServiceClient(a.Internal.Channel).GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel })).Stats;
        var fromB = (await new QueueAdminService.QueueAdminServiceClient(b.Internal.Channel).GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel })).Stats;
        Assert.Equal(fromA, fromB);
        Assert.Equal((ulong)Count, fromA.AckedTotal);
        Assert.Equal((ulong)Count, fromA.PublishedTotal);
        Assert.Equal(2u, fromA.Connections);

        // After a replica restart the numbers are still the same (they live in Redis).
        await b.DisposeAsync();
        await using var c = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var fromC = (await new QueueAdminService.QueueAdminServiceClient(c.Internal.Channel).GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel })).Stats;
        Assert.Equal(fromA.AckedTotal, fromC.AckedTotal);
        Assert.Equal(fromA.DeliveredTotal, fromC.DeliveredTotal);
        Assert.Equal(fromA.PublishedTotal, fromC.PublishedTotal);
    }

    [Fact]
    public async Task LeasesOfAKilledReplicaAreDeliveredByAnotherAfterTheAckTimeout()
    {
        await using var redis = await RedisServer.StartAsync();
        var doomed = await QueueManagerProcess.StartAsync(redis.Endpoint);
        await using var survivor = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("sigkill");
        var token = await TestChannels.CreateAsync(survivor.Internal, channel, new Dictionary<string, string>
        {
            ["ack_timeout_ms"] = "2000",
            ["backoff_initial_ms"] = "0",
            ["max_in_flight"] = "3",
        });
        var published = await survivor.Internal.PublishManyAsync(channel, 3);
        await using var victim = await TestConnector.ConnectAsync(doomed.Channel, channel, token);
        var leased = await victim.TakeAsync(3);
        await using var other = await TestConnector.ConnectAsync(survivor.Channel, channel, token);
        Assert.True(await other.NothingWithinAsync(TimeSpan.FromMilliseconds(500)));

        doomed.Process.Signal(ChildProcess.SigKill);
        await doomed.Process.WaitForExitAsync(Patience);
        await doomed.DisposeAsync();

        var redelivered = await other.TakeAsync(3, TimeSpan.FromSeconds(30));
        Assert.Equal(leased.Select(d => d.Message.MessageId).Order(), redelivered.Select(d => d.Message.MessageId).Order());
        Assert.All(redelivered, d => Assert.Equal(2u, d.Message.Attempt));
        Assert.Equal(published.Select(m => m.MessageId).Order(), redelivered.Select(d => d.Message.MessageId).Order());
        await other.AckAsync([.. redelivered.Select(d => d.Message.MessageId)]);
        await Eventually.UntilAsync(
            async () => (await redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:stats", "acked_total")) == "3",
            Patience,
            "the redelivered messages acked");
        // The dead replica's registration stops counting within ConnectionLiveness (15 s).
        await Eventually.UntilAsync(
            async () => (await redis.ExecuteAsync("ZCOUNT", $"wc:{{{channel}}}:conns", "(" + DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "+inf")) == "1",
            Patience,
            "only the surviving connection counted");
        // And the sweep forgets it everywhere, the cross-slot connection index included.
        await Eventually.UntilAsync(
            async () => (await redis.ExecuteAsync("ZCARD", $"wc:{{{channel}}}:conns"), await redis.ExecuteAsync("HLEN", "wc:connection-index")) == ("1", "1"),
            Patience,
            "the dead replica's connection removed from the channel's connections and the connection index");
    }

    [Fact]
    public async Task StreamsRecoverFromARedisRestartAndNothingIsLost()
    {
        await using var redis = await RedisServer.StartAsync(appendOnly: true);
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("redis-restart");
        var token = await TestChannels.CreateAsync(replica.Internal, channel, new Dictionary<string, string> { ["ack_timeout_ms"] = "3000", ["backoff_initial_ms"] = "0" });
        var before = await replica.Internal.PublishManyAsync(channel, 5, "before");
        var connector = await TestConnector.ConnectAsync(replica.Channel, channel, token);
        var acked = new HashSet<string>();
        foreach (var delivery in await connector.TakeAsync(5))
        {
            await connector.AckAsync(delivery.Message.MessageId);
            acked.Add(delivery.Message.MessageId);
        }

        await Eventually.UntilAsync(async () => (await redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:stats", "acked_total")) == "5", Patience, "5 acks stored");
        await redis.KillAsync();
        await redis.RestartAsync();
        await replica.WaitServingAsync();
        var after = new List<Contracts.V1.Message>();
        await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    var message = TestMessages.NewMessage(channel, "after-" + after.Count);
                    await replica.Internal.PublishAsync(message);
                    after.Add(message);
                    return after.Count == 5;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
                {
                    return false;
                }
            },
            Patience,
            "publishing to work again after the Redis restart");

        // Either the stream survived or it ended with UNAVAILABLE and the connector reconnects: both are allowed.
        var received = new HashSet<string>();
        var deadline = DateTimeOffset.UtcNow + Patience;
        while (received.Count < 5 && DateTimeOffset.UtcNow < deadline)
        {
            if (connector.Ended.IsCompleted)
            {
                Assert.Equal(StatusCode.Unavailable, (await connector.Ended).StatusCode);
                await connector.DisposeAsync();
                connector = await ReconnectAsync(replica, channel, token);
            }

            try
            {
                var delivery = await connector.NextAsync(TimeSpan.FromSeconds(2));
                await connector.AckAsync(delivery.Message.MessageId);
                received.Add(delivery.Message.MessageId);
            }
            catch (TimeoutException)
            {
            }
        }

        await connector.DisposeAsync();
        Assert.Equal(after.Select(m => m.MessageId).Order(), received.Order());
        Assert.Equal(before.Select(m => m.MessageId).Order(), acked.Order());
    }

    [Fact]
    public async Task ShutdownDrainsStreamsThenEndsThemWithUnavailable()
    {
        await using var redis = await RedisServer.StartAsync();
        var replica = await QueueManagerProcess.StartAsync(redis.Endpoint, new Dictionary<string, string> { ["QueueManager:DrainGracePeriod"] = "00:00:01" });
        var channel = TestChannels.UniqueName("drain");
        var token = await TestChannels.CreateAsync(replica.Internal, channel, new Dictionary<string, string> { ["ack_timeout_ms"] = "600000" });
        await replica.Internal.PublishManyAsync(channel, 1);
        await using var connector = await TestConnector.ConnectAsync(replica.Channel, channel, token);
        await connector.NextAsync();

        replica.Process.Signal(ChildProcess.SigTerm);
        var status = await connector.Ended.WaitAsync(Patience);
        var exitCode = await replica.Process.WaitForExitAsync(Patience);
        await replica.DisposeAsync();

        Assert.Equal(StatusCode.Unavailable, status.StatusCode);
        Assert.NotNull(connector.Draining);
        Assert.Equal(0, exitCode);
        // The lease was released on the way out: the message waits for the next connector at once.
        Assert.Equal("1", await redis.ExecuteAsync("ZCARD", $"wc:{{{channel}}}:ready"));
    }

    [Fact]
    public async Task StreamsOnTheOldTokenCloseWhenTheRotationGracePeriodEnds()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("rotate");
        var oldToken = await TestChannels.CreateAsync(replica.Internal, channel);
        await using var onOld = await TestConnector.ConnectAsync(replica.Channel, channel, oldToken);

        var rotation = await new QueueAdminService.QueueAdminServiceClient(replica.Internal.Channel).RotateTokenAsync(
            new RotateTokenRequest { Channel = channel, GracePeriodSeconds = 6 });
        var newToken = rotation.NewToken;
        var graceEnds = rotation.PreviousTokenExpiresAt.ToDateTimeOffset();
        await using var onNew = await TestConnector.ConnectAsync(replica.Channel, channel, newToken);
        await using var lateOld = await TestConnector.ConnectAsync(replica.Channel, channel, oldToken);

        var status = await onOld.Ended.WaitAsync(Patience);
        var closedAt = DateTimeOffset.UtcNow;

        Assert.Equal(StatusCode.Unauthenticated, status.StatusCode);
        Assert.True(closedAt >= graceEnds.AddMilliseconds(-100), "closed before the grace period ended");
        Assert.True(closedAt <= graceEnds.AddMilliseconds(1500), $"closed {(closedAt - graceEnds).TotalMilliseconds:0} ms after the grace period ended");
        Assert.Equal(StatusCode.Unauthenticated, (await lateOld.Ended.WaitAsync(Patience)).StatusCode);
        Assert.False(onNew.Ended.IsCompleted);
        var refused = await Assert.ThrowsAsync<RpcException>(() => TestConnector.ConnectAsync(replica.Channel, channel, oldToken));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
    }

    private static async Task<TestConnector> ReconnectAsync(QueueManagerProcess replica, string channel, string token)
    {
        TestConnector? connector = null;
        await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    connector = await TestConnector.ConnectAsync(replica.Channel, channel, token);
                    return true;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
                {
                    return false;
                }
            },
            Patience,
            "the connector to reconnect");
        return connector!;
    }
}

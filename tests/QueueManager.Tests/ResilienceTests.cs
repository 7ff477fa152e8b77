using Grpc.Core;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Redis;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>Faults that must not stop a replica or leave a stream in a wrong state (found in review).</summary>
public sealed class ResilienceTests
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task RedisOutOfMemoryMakesPublishUnavailableAndTheReplicaKeepsServing()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("oom");
        await TestChannels.CreateAsync(replica.Internal, channel);
        await replica.Internal.PublishManyAsync(channel, 3);

        await redis.ExecuteAsync("CONFIG", "SET", "maxmemory-policy", "noeviction");
        await redis.ExecuteAsync("CONFIG", "SET", "maxmemory", "1");
        var refused = await Assert.ThrowsAsync<RpcException>(() => replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "no room")));
        // The sweeps fail on OOM too; the replica logs it and goes on.
        await replica.Process.WaitForLineAsync(line => line.Contains("Sweeping failed", StringComparison.Ordinal) && line.Contains("OOM", StringComparison.Ordinal), Patience);
        Assert.False(replica.Process.HasExited, replica.Process.Output);
        await redis.ExecuteAsync("CONFIG", "SET", "maxmemory", "0");

        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("out of memory", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(PublishOutcome.Queued, (await replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "room again"))).Outcome);
        Assert.False(replica.Process.HasExited, replica.Process.Output);
    }

    [Fact]
    public async Task EveryLuaScriptIsLoadedOnRedisWhenTheReplicaStarts()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        string[] hashes = [.. ScriptPreloader.Scripts.Select(s => s.Sha1)];

        // SCRIPT EXISTS answers one 1 or 0 per hash.
        await Eventually.UntilAsync(
            async () => await redis.ExecuteAsync(["SCRIPT", "EXISTS", .. hashes]) == string.Join('\n', hashes.Select(_ => "1")),
            Patience,
            $"all {hashes.Length} scripts loaded before any call");
    }

    [Fact]
    public async Task AScriptCacheRedisForgotIsRefilledWithoutAFailedCall()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("noscript");
        var token = await TestChannels.CreateAsync(replica.Internal, channel);
        var before = await replica.Internal.PublishManyAsync(channel, 1, "before");

        // As after a restart or a failover to a primary that never ran the scripts: EVALSHA answers NOSCRIPT.
        await redis.ExecuteAsync("SCRIPT", "FLUSH");
        var after = await replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "after"));
        await using var connector = await TestConnector.ConnectAsync(replica.Channel, channel, token);
        var delivered = await connector.TakeAsync(2);
        await connector.AckAsync(delivered[0].Message.MessageId, delivered[1].Message.MessageId);

        Assert.Equal(PublishOutcome.Queued, after.Outcome);
        Assert.Equal([before[0].MessageId, after.MessageId], delivered.Select(d => d.Message.MessageId));
        await Eventually.UntilAsync(
            async () => await redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:stats", "acked_total") == "2",
            Patience,
            "both acks stored");
    }

    [Fact]
    public async Task ConnectWhileRedisIsDownIsUnavailable()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("down");
        var token = await TestChannels.CreateAsync(replica.Internal, channel);

        await redis.KillAsync();
        var status = await TestConnector.RefusedAsync(replica.Channel, token, new ConnectRequest { Subscribe = new Subscribe { Channel = channel } });

        Assert.Equal(StatusCode.Unavailable, status.StatusCode);
    }

    [Fact]
    public async Task ASilentConnectorIsDroppedWithUnavailableAndItsLeasesReleased()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint, new Dictionary<string, string> { ["QueueManager:HeartbeatInterval"] = "00:00:01" });
        var channel = TestChannels.UniqueName("silent");
        var token = await TestChannels.CreateAsync(replica.Internal, channel, new Dictionary<string, string> { ["ack_timeout_ms"] = "600000" });
        await replica.Internal.PublishManyAsync(channel, 1);
        await using var connector = await TestConnector.ConnectAsync(replica.Channel, channel, token);
        connector.AnswerPings = false;
        await connector.NextAsync();

        var status = await connector.Ended.WaitAsync(Patience);

        Assert.Equal(StatusCode.Unavailable, status.StatusCode);
        Assert.Contains("heartbeat", status.Detail, StringComparison.Ordinal);
        await Eventually.UntilAsync(async () => await redis.ExecuteAsync("ZCARD", $"wc:{{{channel}}}:ready") == "1", Patience, "the lease released");
    }

    [Fact]
    public async Task AResumeWhoseEventWasLostStillReachesOpenStreams()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("lost-resume");
        var token = await TestChannels.CreateAsync(replica.Internal, channel, new Dictionary<string, string> { ["paused"] = "1" });
        await replica.Internal.PublishManyAsync(channel, 1);
        await using var connector = await TestConnector.ConnectAsync(replica.Channel, channel, token);
        Assert.True(connector.Subscribed.Paused);

        // Resumed behind the replicas' backs: no event at all.
        await redis.ExecuteAsync("HSET", $"wc:{{{channel}}}:channel", "paused", "0");

        Assert.NotNull(await connector.NextAsync(TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task TheServerPingsAndAConnectorThatAnswersStaysConnected()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint, new Dictionary<string, string> { ["QueueManager:HeartbeatInterval"] = "00:00:01" });
        var channel = TestChannels.UniqueName("pings");
        var token = await TestChannels.CreateAsync(replica.Internal, channel);
        await using var connector = await TestConnector.ConnectAsync(replica.Channel, channel, token);

        await Eventually.UntilAsync(() => Task.FromResult(Volatile.Read(ref connector.PingsAnswered) >= 5), Patience, "five pings answered");

        Assert.Equal(TimeSpan.FromSeconds(1), connector.Subscribed.HeartbeatInterval.ToTimeSpan());
        Assert.False(connector.Ended.IsCompleted);
    }

    [Fact]
    public async Task RotatingWithoutGraceClosesStreamsOnTheOldTokenAtOnce()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("revoke");
        var oldToken = await TestChannels.CreateAsync(replica.Internal, channel);
        await using var onOld = await TestConnector.ConnectAsync(replica.Channel, channel, oldToken);

        var rotation = await new Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient(replica.Internal.Channel)
            .RotateTokenAsync(new Contracts.Admin.V1.RotateTokenRequest { Channel = channel, GracePeriodSeconds = 0 });

        // At once: through the rotation's event, well before the 5 s configuration refresh could do it.
        var status = await onOld.Ended.WaitAsync(TimeSpan.FromSeconds(3));
        Assert.Equal(StatusCode.Unauthenticated, status.StatusCode);
        Assert.Null(rotation.PreviousTokenExpiresAt);
        await using var onNew = await TestConnector.ConnectAsync(replica.Channel, channel, rotation.NewToken);
        Assert.False(onNew.Ended.IsCompleted);
    }

    [Fact]
    public async Task ASecondRotationRevokesTheTokenBeforeThePreviousAtOnce()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var admin = new Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient(replica.Internal.Channel);
        var channel = TestChannels.UniqueName("two-rotations");
        var first = await TestChannels.CreateAsync(replica.Internal, channel);
        await using var onFirst = await TestConnector.ConnectAsync(replica.Channel, channel, first);
        var second = (await admin.RotateTokenAsync(new Contracts.Admin.V1.RotateTokenRequest { Channel = channel, GracePeriodSeconds = 600 })).NewToken;
        await using var onSecond = await TestConnector.ConnectAsync(replica.Channel, channel, second);
        Assert.False(onFirst.Ended.IsCompleted, "the first token is still within its grace period");

        var third = (await admin.RotateTokenAsync(new Contracts.Admin.V1.RotateTokenRequest { Channel = channel, GracePeriodSeconds = 600 })).NewToken;

        Assert.Equal(StatusCode.Unauthenticated, (await onFirst.Ended.WaitAsync(TimeSpan.FromSeconds(3))).StatusCode);
        var refused = await Assert.ThrowsAsync<RpcException>(() => TestConnector.ConnectAsync(replica.Channel, channel, first));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        await using var stillSecond = await TestConnector.ConnectAsync(replica.Channel, channel, second);
        await using var onThird = await TestConnector.ConnectAsync(replica.Channel, channel, third);
        Assert.False(onSecond.Ended.IsCompleted);
    }
}

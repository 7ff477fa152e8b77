using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.EndToEnd.Tests;

/// <summary>SCENARIOS.md S4 (token rotation), S8 (flaky target and dead letters), S9 (leases).</summary>
public sealed class LifecycleScenarios
{
    /// <summary>Connector YAML (top level) turning local retries off, so every failed call is one cloud attempt.</summary>
    private const string NoLocalRetries = "retry:\n  attempts: 0\n";

    internal static ChannelSettings ShortBackoff(uint? maxAttempts = null, TimeSpan? ackTimeout = null)
    {
        var settings = new ChannelSettings
        {
            RetryBackoff = new RetryBackoff
            {
                Initial = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(100)),
                Max = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(200)),
                Jitter = 0,
            },
        };
        if (maxAttempts is { } attempts)
        {
            settings.MaxDeliveryAttempts = attempts;
        }

        if (ackTimeout is { } timeout)
        {
            settings.AckTimeout = Duration.FromTimeSpan(timeout);
        }

        return settings;
    }

    [Fact]
    public async Task S4_ARotatedTokenKeepsTheOldOneOnlyForTheGracePeriodThenClosesItsStreamAndRefusesIt()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var oldToken = await stack.CreateChannelAsync("channel-alpha", ["channel-alpha"]);
        var queueManager = stack.QueueManager.Channel;

        var rotated = await stack.AdminClient.RotateTokenAsync(new RotateTokenRequest { Channel = "channel-alpha", GracePeriodSeconds = 3 }, ScenarioStack.AdminHeaders);
        var newToken = rotated.NewToken;
        var expiresAt = rotated.PreviousTokenExpiresAt.ToDateTimeOffset();
        Assert.True(rotated.Rotated);
        Assert.NotEqual(oldToken, newToken);
        Assert.InRange(expiresAt - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3.5));

        await using var onOld = await TestConnector.ConnectAsync(queueManager, "channel-alpha", oldToken, connectorId: "s4-old");
        Assert.True(DateTimeOffset.UtcNow < expiresAt, "the old-token connection must have been made during the grace period");
        await using var onNew = await TestConnector.ConnectAsync(queueManager, "channel-alpha", newToken, connectorId: "s4-new");
        var wrongToken = newToken[..^1] + (newToken[^1] == 'a' ? 'b' : 'a');
        var wrong = await Assert.ThrowsAsync<RpcException>(() => TestConnector.ConnectAsync(queueManager, "channel-alpha", wrongToken, connectorId: "s4-wrong"));
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);

        var oldEnded = await onOld.Ended.WaitAsync(ScenarioStack.Patience);
        Assert.Equal(StatusCode.Unauthenticated, oldEnded.StatusCode);
        Assert.True(DateTimeOffset.UtcNow >= expiresAt.AddMilliseconds(-250), $"the old-token stream was closed before the grace period ended ({expiresAt:O})");
        Assert.False(onNew.Ended.IsCompleted, "the new-token stream must stay open");

        var refused = await Assert.ThrowsAsync<RpcException>(() => TestConnector.ConnectAsync(queueManager, "channel-alpha", oldToken, connectorId: "s4-old-again"));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);

        // A webhook after the rotation reaches the new-token stream and does not bring the old token back.
        var reply = await stack.PostWebhookAsync("channel-alpha", 1, 1);
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        var delivery = await onNew.NextAsync();
        Assert.Equal(reply.MessageId, delivery.Message.MessageId);
        Assert.Equal(reply.SentBody, delivery.Message.Body.ToByteArray());
        await onNew.AckAsync(reply.MessageId);
        await stack.WaitForStatsAsync("channel-alpha", s => s.AckedTotal == 1, "1 acked");

        var stillRefused = await Assert.ThrowsAsync<RpcException>(() => TestConnector.ConnectAsync(queueManager, "channel-alpha", oldToken, connectorId: "s4-old-after-webhook"));
        Assert.Equal(StatusCode.Unauthenticated, stillRefused.StatusCode);
        await using var againOnNew = await TestConnector.ConnectAsync(queueManager, "channel-alpha", newToken, connectorId: "s4-new-after-webhook");
        Assert.False(againOnNew.Ended.IsCompleted);
        Assert.False(onNew.Ended.IsCompleted);
    }

    [Fact]
    public async Task S8_ATargetFailingTwiceThenSucceedingGetsEachMessageOnAttempts1To3AndItIsAckedOnce()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], ShortBackoff());
        var target = await stack.StartTargetAsync();
        var calls = new ConcurrentDictionary<string, int>();
        target.Answer = r => new TargetAnswer(calls.AddOrUpdate(r.MessageId, 1, (_, n) => n + 1) <= 2 ? 500 : 200);
        await stack.StartConnectorAsync("test-channel", token, target, extraYaml: NoLocalRetries);

        var replies = new List<WebhookReply>();
        for (var i = 1; i <= 3; i++)
        {
            replies.Add(await stack.PostWebhookAsync("cloud-webhook", i, 3));
        }

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal == 3 && s.MessagesInFlight == 0 && s.MessagesDelayed == 0 && s.MessagesQueued == 0, "3 acked, nothing left");

        foreach (var reply in replies)
        {
            var received = target.For(reply.MessageId);
            Assert.Equal([1, 2, 3], received.Select(r => r.Attempt));
            Assert.All(received, r => Assert.Equal(reply.SentBody, r.Body));
        }

        Assert.Equal(9, target.Count);
        Assert.Equal((3ul, 6ul, 0ul, 0u), (stats.AckedTotal, stats.NackedTotal, stats.DeadLetteredTotal, stats.DeadLetters));
    }

    [Fact]
    public async Task S8_ATarget400DeadLettersTheMessageAtOnceWithItsStatusAndAReplayDeliversItOnceMore()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], ShortBackoff());
        var target = await stack.StartTargetAsync();
        target.Answer = _ => new TargetAnswer(400, "bad payload");
        await stack.StartConnectorAsync("test-channel", token, target);

        var reply = await stack.PostWebhookAsync("cloud-webhook", 1, 1);
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        await stack.WaitForStatsAsync("test-channel", s => s.DeadLetters == 1, "1 dead letter");

        var received = Assert.Single(target.Requests);
        Assert.Equal((reply.MessageId, 1), (received.MessageId, received.Attempt));
        var listed = await stack.AdminClient.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = "test-channel" }, ScenarioStack.AdminHeaders);
        var dead = Assert.Single(listed.Messages);
        Assert.Equal(1u, listed.Total);
        Assert.Equal(reply.MessageId, dead.Message.MessageId);
        Assert.Equal(DeadLetterReason.Rejected, dead.Reason);
        Assert.Equal(400u, dead.LastStatusCode);
        Assert.Contains("400", dead.LastError, StringComparison.Ordinal);
        Assert.Equal(1u, dead.Attempts);
        var full = (await stack.AdminClient.GetDeadLetterAsync(new GetDeadLetterRequest { Channel = "test-channel", MessageId = reply.MessageId }, ScenarioStack.AdminHeaders)).DeadLetter;
        Assert.Equal(reply.SentBody, full.Message.Body.ToByteArray());
        Assert.Equal((uint)reply.SentBody.Length, full.BodySize);

        target.Answer = _ => new TargetAnswer(200);
        var replayed = await stack.AdminClient.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Channel = "test-channel", MessageIds = { reply.MessageId } }, ScenarioStack.AdminHeaders);
        Assert.Equal(1u, replayed.Replayed);
        Assert.Empty(replayed.NotFound);
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal == 1 && s.MessagesInFlight == 0 && s.MessagesQueued == 0, "the replayed message acked");

        var both = target.For(reply.MessageId);
        Assert.Equal(2, both.Count);
        Assert.Equal(2, target.Count);
        Assert.Equal(1, both[1].Attempt);
        Assert.Equal(reply.SentBody, both[1].Body);
        Assert.Equal((0u, 1ul), (stats.DeadLetters, stats.DeadLetteredTotal));
        Assert.Equal(0u, (await stack.AdminClient.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = "test-channel" }, ScenarioStack.AdminHeaders)).Total);
    }

    [Fact]
    public async Task S8_ATargetAlways500DeadLettersTheMessageAfterExactlyMaxDeliveryAttempts()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], ShortBackoff(maxAttempts: 3));
        var target = await stack.StartTargetAsync();
        target.Answer = _ => new TargetAnswer(500, "down");
        await stack.StartConnectorAsync("test-channel", token, target, extraYaml: NoLocalRetries);

        var reply = await stack.PostWebhookAsync("cloud-webhook", 1, 1);
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.DeadLetters == 1, "1 dead letter");

        var received = target.For(reply.MessageId);
        Assert.Equal([1, 2, 3], received.Select(r => r.Attempt));
        Assert.All(received, r => Assert.Equal(reply.SentBody, r.Body));
        Assert.Equal(3, target.Count);
        var dead = Assert.Single((await stack.AdminClient.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = "test-channel" }, ScenarioStack.AdminHeaders)).Messages);
        Assert.Equal(reply.MessageId, dead.Message.MessageId);
        Assert.Equal(DeadLetterReason.MaxAttempts, dead.Reason);
        Assert.Equal(3u, dead.Attempts);
        Assert.Equal(500u, dead.LastStatusCode);
        Assert.Equal((0ul, 0u, 0u, 0u), (stats.AckedTotal, stats.MessagesQueued, stats.MessagesInFlight, stats.MessagesDelayed));
    }

    [Fact]
    public async Task S9_AMessageNeverAckedIsRedeliveredAsAttempt2ToAnotherConnectorAfterTheAckTimeout()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var ackTimeout = TimeSpan.FromSeconds(2);
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], ShortBackoff(ackTimeout: ackTimeout));
        var queueManager = stack.QueueManager.Channel;

        await using var first = await TestConnector.ConnectAsync(queueManager, "test-channel", token, connectorId: "s9-silent");
        var reply = await stack.PostWebhookAsync("cloud-webhook", 1, 1);
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        var held = await first.NextAsync();
        var heldAt = Stopwatch.StartNew();
        Assert.Equal((reply.MessageId, 1u), (held.Message.MessageId, held.Message.Attempt));

        // The silent connector stays connected, never acks, and takes nothing more; a second one joins.
        await first.StopDeliveriesAsync();
        await using var second = await TestConnector.ConnectAsync(queueManager, "test-channel", token, connectorId: "s9-second");
        var again = await second.NextAsync(ScenarioStack.Patience);
        var waited = heldAt.Elapsed;

        Assert.Equal((reply.MessageId, 2u), (again.Message.MessageId, again.Message.Attempt));
        Assert.Equal(reply.SentBody, again.Message.Body.ToByteArray());
        Assert.True(waited >= ackTimeout - TimeSpan.FromMilliseconds(300), $"redelivered after {waited}, before the ack timeout {ackTimeout}");
        Assert.False(first.Ended.IsCompleted, "the silent connector's stream must still be open");
        await second.AckAsync(reply.MessageId);
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal == 1, "1 acked");
        Assert.Equal((1ul, 2ul, 0u, 0u), (stats.LeaseExpiredTotal, stats.DeliveredTotal, stats.MessagesInFlight, stats.MessagesQueued));
        Assert.Equal(0, first.Pending);
    }

    [Fact]
    public async Task S9_AConnectorClosingCleanlyWithUnackedMessagesHasThemRedeliveredAtOnce()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], ShortBackoff(ackTimeout: TimeSpan.FromSeconds(60)));
        var queueManager = stack.QueueManager.Channel;

        await using var first = await TestConnector.ConnectAsync(queueManager, "test-channel", token, connectorId: "s9-closing");
        var replies = new List<WebhookReply>();
        for (var i = 1; i <= 3; i++)
        {
            replies.Add(await stack.PostWebhookAsync("cloud-webhook", i, 3));
        }

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        var held = await first.TakeAsync(3);
        Assert.Equal(replies.Select(r => r.MessageId).Order(StringComparer.Ordinal), held.Select(d => d.Message.MessageId).Order(StringComparer.Ordinal));

        await using var second = await TestConnector.ConnectAsync(queueManager, "test-channel", token, connectorId: "s9-second");
        var closedAt = Stopwatch.StartNew();
        await first.CompleteAsync();
        var again = await second.TakeAsync(3, TimeSpan.FromSeconds(10));
        var waited = closedAt.Elapsed;

        Assert.True(waited < TimeSpan.FromSeconds(10), $"redelivered after {waited}");
        Assert.Equal(replies.Select(r => r.MessageId).Order(StringComparer.Ordinal), again.Select(d => d.Message.MessageId).Order(StringComparer.Ordinal));
        foreach (var reply in replies)
        {
            var delivery = again.Single(d => d.Message.MessageId == reply.MessageId);
            Assert.Equal(2u, delivery.Message.Attempt);
            Assert.Equal(reply.SentBody, delivery.Message.Body.ToByteArray());
        }

        await second.AckAsync([.. replies.Select(r => r.MessageId)]);
        var stats = await stack.WaitForStatsAsync("test-channel", s => s.AckedTotal == 3, "3 acked");
        Assert.Equal((6ul, 0u, 0u, 0u), (stats.DeliveredTotal, stats.MessagesInFlight, stats.MessagesQueued, stats.DeadLetters));
        Assert.True(await second.NothingWithinAsync(TimeSpan.FromMilliseconds(500)));
    }
}

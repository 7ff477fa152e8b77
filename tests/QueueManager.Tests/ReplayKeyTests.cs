using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Redis;
using WebhookConnect.QueueManager.Tests.Support;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>
/// Issue 20, finding 6, the queue side: Message.replay_key (the verified signature of a webhook, set by ingress) is
/// remembered in Redis for Message.replay_window, shared by every ingress and queue-manager replica, so a replayed
/// request is answered DUPLICATE with the original id instead of being queued twice.
/// </summary>
public sealed class ReplayKeyTests(SharedQueueManager shared) : IClassFixture<SharedQueueManager>
{
    private PublishService.PublishServiceClient Client => new(shared.Replica.Internal.Channel);

    [Fact]
    public async Task AMessageWithAReplayKeySeenWithinItsWindowIsADuplicateOfTheFirst()
    {
        var (channel, _) = await shared.NewChannelAsync("replay-key");
        var original = Keyed(channel, "signed", "k1", TimeSpan.FromHours(1));
        var replay = Keyed(channel, "signed", "k1", TimeSpan.FromHours(1));
        var other = Keyed(channel, "signed too", "k2", TimeSpan.FromHours(1));

        var first = await shared.Replica.Internal.PublishAsync(original);
        var second = await shared.Replica.Internal.PublishAsync(replay);
        var third = await shared.Replica.Internal.PublishAsync(other);

        Assert.Equal(PublishOutcome.Queued, first.Outcome);
        Assert.Equal((PublishOutcome.Duplicate, original.MessageId), (second.Outcome, second.MessageId));
        Assert.Equal(PublishOutcome.Queued, third.Outcome);
        Assert.Equal(2, await shared.CountAsync(channel, "ready"));
        Assert.Equal(1, await shared.StatAsync(channel, "duplicates_total"));
        // Stored as its own key with Redis' own expiry: nothing to sweep, and it lapses on time.
        Assert.Equal(original.MessageId, await shared.Redis.ExecuteAsync("GET", ReplayKey(channel, "k1")));
        Assert.InRange(await PttlAsync(channel, "k1"), 1, 3_600_000);
    }

    [Fact]
    public async Task AReplayKeyIsForgottenWhenItsWindowEnds()
    {
        var (channel, _) = await shared.NewChannelAsync("replay-window");
        await shared.Replica.Internal.PublishAsync(Keyed(channel, "signed", "k1", TimeSpan.FromMilliseconds(300)));

        await TestKit.Eventually.UntilAsync(
            async () => await shared.Redis.ExecuteAsync("EXISTS", ReplayKey(channel, "k1")) == "0", QueueManagerProcess.Patience, "the replay key to expire");
        var later = await shared.Replica.Internal.PublishAsync(Keyed(channel, "signed", "k1", TimeSpan.FromMilliseconds(300)));

        Assert.Equal(PublishOutcome.Queued, later.Outcome);
        Assert.Equal(2, await shared.CountAsync(channel, "ready"));
        Assert.Equal(0, await shared.StatAsync(channel, "duplicates_total"));
    }

    [Fact]
    public async Task AMessageRefusedBecauseTheChannelIsFullLeavesNoReplayKeySoItsSenderMayTryAgain()
    {
        var (channel, _) = await shared.NewChannelAsync("replay-full", new Dictionary<string, string> { ["max_queue_size"] = "1" });
        await shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "filler"));

        var ex = await Assert.ThrowsAsync<RpcException>(() => shared.Replica.Internal.PublishAsync(Keyed(channel, "signed", "k1", TimeSpan.FromHours(1))));

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal("0", await shared.Redis.ExecuteAsync("EXISTS", ReplayKey(channel, "k1")));
        Assert.Equal(0, await shared.StatAsync(channel, "duplicates_total"));
    }

    [Fact]
    public async Task OneReplayKeyInABatchOrInConcurrentPublishesQueuesOnce()
    {
        var (channel, _) = await shared.NewChannelAsync("replay-batch");
        var a = Keyed(channel, "a", "k-batch", TimeSpan.FromHours(1));
        var b = Keyed(channel, "a", "k-batch", TimeSpan.FromHours(1));
        var c = TestMessages.NewMessage(channel, "unsigned");
        var concurrent = Enumerable.Range(0, 30).Select(i => Keyed(channel, "c", "k-concurrent", TimeSpan.FromHours(1))).ToList();

        var batch = await Client.PublishBatchAsync(new PublishBatchRequest { Messages = { a, b, c } });
        var outcomes = await Task.WhenAll(concurrent.Select(m => shared.Replica.Internal.PublishAsync(m)));

        Assert.Equal(
            [(PublishOutcome.Queued, a.MessageId), (PublishOutcome.Duplicate, a.MessageId), (PublishOutcome.Queued, c.MessageId)],
            batch.Results.Select(r => (r.Outcome, r.MessageId)));
        var winner = outcomes.Single(r => r.Outcome == PublishOutcome.Queued).MessageId;
        Assert.All(outcomes.Where(r => r.Outcome != PublishOutcome.Queued), r => Assert.Equal((PublishOutcome.Duplicate, winner), (r.Outcome, r.MessageId)));
        Assert.Equal(3, await shared.CountAsync(channel, "ready"));
        Assert.Equal(30, await shared.StatAsync(channel, "duplicates_total"));
    }

    [Fact]
    public async Task AReplayKeyWithoutAUsableWindowOrTooLongIsInvalidArgumentNamingTheField()
    {
        var (channel, _) = await shared.NewChannelAsync("replay-invalid");
        var noWindow = TestMessages.NewMessage(channel, "x");
        noWindow.ReplayKey = "k1";
        var tooLong = Keyed(channel, "x", new string('k', 129), TimeSpan.FromHours(1));
        var withSpace = Keyed(channel, "x", "k 1", TimeSpan.FromHours(1));
        var tooFar = Keyed(channel, "x", "k1", TimeSpan.FromDays(31));

        var errors = new List<RpcException>();
        foreach (var message in new[] { noWindow, tooLong, withSpace, tooFar })
        {
            errors.Add(await Assert.ThrowsAsync<RpcException>(() => shared.Replica.Internal.PublishAsync(message)));
        }

        Assert.All(errors, e => Assert.Equal(StatusCode.InvalidArgument, e.StatusCode));
        Assert.Equal("message.replay_window = (absent): with a replay_key it must be 1 ms to 30 days", errors[0].Status.Detail);
        Assert.StartsWith("message.replay_key = 'kkkk", errors[1].Status.Detail, StringComparison.Ordinal);
        Assert.EndsWith("1 to 128 printable ASCII characters without spaces", errors[1].Status.Detail, StringComparison.Ordinal);
        Assert.Equal("message.replay_key = 'k 1': 1 to 128 printable ASCII characters without spaces", errors[2].Status.Detail);
        Assert.Equal("message.replay_window = 2678400s 0ns: with a replay_key it must be 1 ms to 30 days", errors[3].Status.Detail);
        Assert.Equal(0, await shared.CountAsync(channel, "ready"));
    }

    private static Message Keyed(string channel, string body, string replayKey, TimeSpan window)
    {
        var message = TestMessages.NewMessage(channel, body);
        message.ReplayKey = replayKey;
        message.ReplayWindow = Duration.FromTimeSpan(window);
        return message;
    }

    private static string ReplayKey(string channel, string key) => new ChannelKeys(channel).Replay(key).ToString();

    private async Task<long> PttlAsync(string channel, string key) =>
        long.Parse((await shared.Redis.ExecuteAsync("PTTL", ReplayKey(channel, key)))!, CultureInfo.InvariantCulture);
}

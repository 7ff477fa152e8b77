using System.Globalization;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>
/// The per-channel byte budget (<c>max_queue_bytes</c>, issue 20 finding 5): what anonymous senders can put into the
/// shared Redis through one channel is bounded, and the count behind the bound stays exact whatever way a message
/// leaves.
/// </summary>
public sealed class ChannelByteBudgetTests(SharedQueueManager shared) : IClassFixture<SharedQueueManager>
{
    // Whole seconds: Timestamp nanos are a varint, so equal bodies give envelopes of exactly equal size (message ids
    // have one length too, and the channel name is in the envelope, so sizes are measured per channel).
    private static readonly DateTimeOffset ReceivedAt = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    private static Message Sized(string channel) => TestMessages.NewMessage(channel, new string('x', 2000), receivedAt: ReceivedAt);

    [Fact]
    public async Task APublishOverTheByteBudgetIsResourceExhaustedNamingTheBudgetAndOnlyTheAcceptedAreStored()
    {
        var channel = SharedQueueManager.UniqueName("budget");
        var size = Sized(channel).CalculateSize();
        var budget = (3 * size) + (size / 2);
        await TestChannels.CreateAsync(shared.Replica.Internal, channel, Settings(budget));

        var accepted = new List<Message>();
        for (var i = 0; i < 3; i++)
        {
            var message = Sized(channel);
            Assert.Equal(PublishOutcome.Queued, (await shared.Replica.Internal.PublishAsync(message)).Outcome);
            accepted.Add(message);
        }

        var refused = await Assert.ThrowsAsync<RpcException>(() => shared.Replica.Internal.PublishAsync(Sized(channel)));
        var refusedAgain = await Assert.ThrowsAsync<RpcException>(() => shared.Replica.Internal.PublishAsync(Sized(channel)));

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal(
            $"channel '{channel}' is over its byte budget: it holds {3 * size} bytes and a message of {size} bytes would exceed max_queue_bytes = {budget}; retry later",
            refused.Status.Detail);
        Assert.Equal("5000", refused.Trailers.GetValue("retry-after-ms"));
        Assert.Equal(StatusCode.ResourceExhausted, refusedAgain.StatusCode);
        Assert.Equal(3 * size, await shared.StatAsync(channel, "queue_bytes"));
        Assert.Equal(3, await shared.CountAsync(channel, "ready"));
        Assert.Equal(2, await shared.StatAsync(channel, "rejected_total"));
        var peeked = await shared.Admin.PeekMessagesAsync(new PeekMessagesRequest { Channel = channel, Limit = 10 });
        Assert.Equal(accepted.Select(m => m.MessageId), peeked.Messages.Select(m => m.Message.MessageId));
        var stats = (await shared.Admin.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel })).Stats;
        Assert.Equal((ulong)(3 * size), stats.QueueBytes);

        // Another channel on the same Redis is untouched by this one being over its budget.
        var (other, _) = await shared.NewChannelAsync("budget-other");
        Assert.Equal(PublishOutcome.Queued, (await shared.Replica.Internal.PublishAsync(Sized(other))).Outcome);
    }

    [Fact]
    public async Task TheByteCountIsExactThroughAckDeadLetterPurgeReplayExpiryAndDelete()
    {
        var channel = SharedQueueManager.UniqueName("bytes");
        var size = Sized(channel).CalculateSize();
        var token = await TestChannels.CreateAsync(shared.Replica.Internal, channel, Settings(10 * size));
        foreach (var _ in Enumerable.Range(0, 4))
        {
            await shared.Replica.Internal.PublishAsync(Sized(channel));
        }

        Assert.Equal(4 * size, await shared.StatAsync(channel, "queue_bytes"));
        await using (var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token, maxInFlight: 4))
        {
            var deliveries = await connector.TakeAsync(4);
            var ids = deliveries.Select(d => d.Message.MessageId).ToArray();

            // In flight still counts; an ack frees the message's bytes.
            Assert.Equal(4 * size, await shared.StatAsync(channel, "queue_bytes"));
            await connector.AckAsync(ids[0]);
            await BytesAsync(channel, 3 * size, "an ack");

            // A dead letter still occupies Redis, so it still counts; purging it frees it.
            await connector.NackAsync(ids[1], retry: false);
            await connector.NackAsync(ids[2], retry: false);
            await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "dlq") == 2, QueueManagerProcess.Patience, "two dead letters");
            Assert.Equal(3 * size, await shared.StatAsync(channel, "queue_bytes"));
            await shared.Admin.PurgeDeadLettersAsync(new PurgeDeadLettersRequest { Channel = channel, MessageIds = { ids[1] } });
            await BytesAsync(channel, 2 * size, "a purge");

            // A replay moves a dead letter back into the queue: same bytes, still counted once.
            await shared.Admin.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Channel = channel, All = true });
            var replayed = await connector.NextAsync();
            Assert.Equal(ids[2], replayed.Message.MessageId);
            Assert.Equal(2 * size, await shared.StatAsync(channel, "queue_bytes"));
            await connector.AckAsync(ids[2], ids[3]);
            await BytesAsync(channel, 0, "the last acks");
        }

        // Expiry frees the bytes of messages nobody took.
        var (expiring, _) = await shared.NewChannelAsync("bytes-ttl", new Dictionary<string, string>
        {
            ["ttl_ms"] = "1000",
            ["max_message_bytes"] = "4096",
            ["max_queue_bytes"] = (10 * size).ToString(CultureInfo.InvariantCulture),
        });
        await shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(expiring, new string('x', 2000)));
        await shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(expiring, new string('x', 2000)));
        Assert.NotEqual(0, await shared.StatAsync(expiring, "queue_bytes"));
        await Eventually.UntilAsync(async () => await shared.StatAsync(expiring, "expired_total") == 2, QueueManagerProcess.Patience, "both messages to expire");
        Assert.Equal(0, await shared.StatAsync(expiring, "queue_bytes"));

        // Delete takes the count with the messages: the channel created again under the name starts from zero.
        await shared.Replica.Internal.PublishAsync(Sized(channel));
        await shared.Admin.DeleteChannelAsync(new DeleteChannelRequest { Channel = channel });
        await TestChannels.CreateAsync(shared.Replica.Internal, channel, Settings(10 * size));
        Assert.Equal(0, await shared.StatAsync(channel, "queue_bytes"));
        await shared.Replica.Internal.PublishAsync(Sized(channel));
        Assert.Equal(size, await shared.StatAsync(channel, "queue_bytes"));
    }

    [Fact]
    public async Task AChannelCreatedWithoutABudgetGetsTheQueueManagerDefaultAndReadsItBack()
    {
        var (channel, _) = await shared.NewChannelAsync("budget-default");

        var settings = (await shared.Admin.GetChannelAsync(new GetChannelRequest { Channel = channel })).Channel.Settings;

        Assert.True(settings.HasMaxQueueBytes);
        Assert.Equal(256UL * 1024 * 1024, settings.MaxQueueBytes);
        Assert.Equal((256L * 1024 * 1024).ToString(CultureInfo.InvariantCulture), await shared.Redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:channel", "max_queue_bytes"));
    }

    private Task BytesAsync(string channel, long expected, string what) =>
        Eventually.UntilAsync(async () => await shared.StatAsync(channel, "queue_bytes") == expected, QueueManagerProcess.Patience, $"queue_bytes = {expected} after {what}");

    private static Dictionary<string, string> Settings(long budget) => new()
    {
        ["max_message_bytes"] = "4096",
        ["max_queue_bytes"] = budget.ToString(CultureInfo.InvariantCulture),
    };
}

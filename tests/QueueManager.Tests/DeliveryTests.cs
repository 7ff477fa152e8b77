using System.Globalization;
using Grpc.Core;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>SPEC §6 delivery semantics over real Connect streams, against one queue-manager and a real redis-server.</summary>
public sealed class DeliveryTests(SharedQueueManager shared) : IClassFixture<SharedQueueManager>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task MessagesWaitingBeforeAConnectorArrivesAreDeliveredInOrderByteForByte()
    {
        var (channel, token) = await shared.NewChannelAsync("fifo");
        var published = await shared.Replica.Internal.PublishManyAsync(channel, 5);

        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var deliveries = await connector.TakeAsync(5);

        Assert.Equal(published.Select(m => m.MessageId), deliveries.Select(d => d.Message.MessageId));
        for (var i = 0; i < 5; i++)
        {
            var expected = published[i].Clone();
            expected.Attempt = 1;
            Assert.Equal(expected, deliveries[i].Message);
        }

        Assert.Equal(new byte[] { 0xff, 0x80 }, deliveries[0].Message.Headers[2].Value.ToByteArray());
        Assert.Equal(5, await shared.StatAsync(channel, "delivered_total"));
    }

    [Fact]
    public async Task AckRemovesTheMessageForGood()
    {
        var (channel, token) = await shared.NewChannelAsync("ack");
        var published = await shared.Replica.Internal.PublishManyAsync(channel, 3);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var deliveries = await connector.TakeAsync(3);

        await connector.AckAsync([.. deliveries.Select(d => d.Message.MessageId)]);

        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") == 3, Patience, "3 acks counted");
        Assert.Equal(0, await shared.CountAsync(channel, "leases"));
        Assert.Equal(0, await shared.CountAsync(channel, "ready"));
        Assert.Equal("0", await shared.Redis.ExecuteAsync("HLEN", $"wc:{{{channel}}}:messages"));
        Assert.True(await connector.NothingWithinAsync(TimeSpan.FromSeconds(1)));
        Assert.Equal(3, published.Count);
    }

    [Fact]
    public async Task ANewMessageReachesAnIdleConnectorAtOnce()
    {
        var (channel, token) = await shared.NewChannelAsync("wake");
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);

        var message = TestMessages.NewMessage(channel, "hello");
        await shared.Replica.Internal.PublishAsync(message);

        var delivery = await connector.NextAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(message.MessageId, delivery.Message.MessageId);
    }

    [Fact]
    public async Task UnackedDeliveriesNeverExceedTheEffectiveMaxInFlight()
    {
        var (channel, token) = await shared.NewChannelAsync("credits", new Dictionary<string, string> { ["max_in_flight"] = "5" });
        await shared.Replica.Internal.PublishManyAsync(channel, 30);

        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token, maxInFlight: 50);
        Assert.Equal(5u, connector.Subscribed.MaxInFlight);
        var received = new List<string>();
        for (var round = 0; round < 6; round++)
        {
            var batch = await connector.TakeAsync(5);
            Assert.True(await connector.NothingWithinAsync(TimeSpan.FromMilliseconds(500)), $"round {round}: a sixth delivery arrived while 5 were unacked");
            Assert.Equal(5, await shared.CountAsync(channel, "leases"));
            received.AddRange(batch.Select(d => d.Message.MessageId));
            await connector.AckAsync([.. batch.Select(d => d.Message.MessageId)]);
        }

        Assert.Equal(30, received.Distinct().Count());
    }

    [Fact]
    public async Task NackWithRetryRedeliversAfterBackoffWithTheNextAttempt()
    {
        var (channel, token) = await shared.NewChannelAsync("nack", new Dictionary<string, string>
        {
            ["backoff_initial_ms"] = "1500",
            ["backoff_jitter"] = "0",
        });
        var message = TestMessages.NewMessage(channel, "retry me");
        await shared.Replica.Internal.PublishAsync(message);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var first = await connector.NextAsync();

        var nackedAt = DateTimeOffset.UtcNow;
        await connector.NackAsync(first.Message.MessageId, retry: true, "HTTP 503");
        var second = await connector.NextAsync();
        var waited = DateTimeOffset.UtcNow - nackedAt;

        Assert.Equal(message.MessageId, second.Message.MessageId);
        Assert.Equal(1u, first.Message.Attempt);
        Assert.Equal(2u, second.Message.Attempt);
        Assert.True(waited >= TimeSpan.FromMilliseconds(1400), $"redelivered after {waited.TotalMilliseconds:0} ms, backoff is 1500 ms");
        Assert.Equal(1, await shared.StatAsync(channel, "nacked_total"));
    }

    [Fact]
    public async Task NackWithoutRetryDeadLettersAtOnceWithTheReason()
    {
        var (channel, token) = await shared.NewChannelAsync("reject");
        var message = TestMessages.NewMessage(channel, "bad");
        await shared.Replica.Internal.PublishAsync(message);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var delivery = await connector.NextAsync();

        await connector.NackAsync(delivery.Message.MessageId, retry: false, "HTTP 400: invalid payload", 400);

        await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "dlq") == 1, Patience, "the message in the dead-letter queue");
        var info = await shared.Redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:dlq-info", message.MessageId);
        Assert.StartsWith("REJECTED|1|", info, StringComparison.Ordinal);
        Assert.EndsWith("|400|HTTP 400: invalid payload", info, StringComparison.Ordinal);
        Assert.Equal(0, await shared.CountAsync(channel, "leases"));
        Assert.Equal(1, await shared.StatAsync(channel, "dead_lettered_total"));
        Assert.True(await connector.NothingWithinAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task AMessageIsDeadLetteredAfterMaxDeliveryAttempts()
    {
        var (channel, token) = await shared.NewChannelAsync("attempts", new Dictionary<string, string>
        {
            ["max_delivery_attempts"] = "3",
            ["backoff_initial_ms"] = "0",
        });
        var message = TestMessages.NewMessage(channel, "always fails");
        await shared.Replica.Internal.PublishAsync(message);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);

        for (uint attempt = 1; attempt <= 3; attempt++)
        {
            var delivery = await connector.NextAsync();
            Assert.Equal(attempt, delivery.Message.Attempt);
            await connector.NackAsync(delivery.Message.MessageId, retry: true, $"HTTP 500 #{attempt}");
        }

        await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "dlq") == 1, Patience, "dead-lettered after 3 attempts");
        var info = await shared.Redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:dlq-info", message.MessageId);
        Assert.StartsWith("MAX_ATTEMPTS|3|", info, StringComparison.Ordinal);
        Assert.EndsWith("|500|HTTP 500 #3", info, StringComparison.Ordinal);
        Assert.True(await connector.NothingWithinAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task AnExpiredLeaseIsDeliveredAgainAsTheNextAttempt()
    {
        var (channel, token) = await shared.NewChannelAsync("lease", new Dictionary<string, string>
        {
            ["ack_timeout_ms"] = "1000",
            ["backoff_initial_ms"] = "0",
        });
        var message = TestMessages.NewMessage(channel, "slow");
        await shared.Replica.Internal.PublishAsync(message);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);

        var first = await connector.NextAsync();
        var second = await connector.NextAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(message.MessageId, second.Message.MessageId);
        Assert.Equal(2u, second.Message.Attempt);
        Assert.True(second.LeaseDeadline.ToDateTimeOffset() > first.LeaseDeadline.ToDateTimeOffset());
        Assert.Equal(1, await shared.StatAsync(channel, "lease_expired_total"));

        await connector.AckAsync(first.Message.MessageId);
        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") == 1, Patience, "the ack of the second lease");
    }

    [Fact]
    public async Task ACleanCloseReleasesLeasesAtOnce()
    {
        var (channel, token) = await shared.NewChannelAsync("release", new Dictionary<string, string> { ["ack_timeout_ms"] = "600000" });
        var published = await shared.Replica.Internal.PublishManyAsync(channel, 3);
        var first = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        await first.TakeAsync(3);

        await first.CompleteAsync();
        Assert.Equal(StatusCode.OK, (await first.Ended.WaitAsync(Patience)).StatusCode);
        await first.DisposeAsync();

        await using var second = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var again = await second.TakeAsync(3, TimeSpan.FromSeconds(10));
        Assert.Equal(published.Select(m => m.MessageId).Order(), again.Select(d => d.Message.MessageId).Order());
        Assert.All(again, d => Assert.Equal(2u, d.Message.Attempt));
    }

    [Fact]
    public async Task AnAbruptCloseAlsoReleasesLeasesAtOnce()
    {
        var (channel, token) = await shared.NewChannelAsync("abort", new Dictionary<string, string> { ["ack_timeout_ms"] = "600000" });
        await shared.Replica.Internal.PublishManyAsync(channel, 2);
        var first = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        await first.TakeAsync(2);

        first.Abort();
        await first.DisposeAsync();

        await using var second = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        Assert.Equal(2, (await second.TakeAsync(2, TimeSpan.FromSeconds(10))).Count);
    }

    [Fact]
    public async Task ExpiredMessagesAreNeverDeliveredAndAreCounted()
    {
        var (channel, token) = await shared.NewChannelAsync("ttl", new Dictionary<string, string> { ["ttl_ms"] = "1000" });
        var old = TestMessages.NewMessage(channel, "old", receivedAt: DateTimeOffset.UtcNow.AddSeconds(-5));
        var fresh = TestMessages.NewMessage(channel, "fresh");
        await shared.Replica.Internal.PublishAsync(old);
        await shared.Replica.Internal.PublishAsync(fresh);

        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var delivery = await connector.NextAsync();

        Assert.Equal(fresh.MessageId, delivery.Message.MessageId);
        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "expired_total") == 1, Patience, "the expired message counted");
        Assert.Equal("0", await shared.Redis.ExecuteAsync("HEXISTS", $"wc:{{{channel}}}:messages", old.MessageId));
    }

    [Fact]
    public async Task APausedChannelQueuesButDeliversNothingUntilResumed()
    {
        var (channel, token) = await shared.NewChannelAsync("pause", new Dictionary<string, string> { ["paused"] = "1" });
        await shared.Replica.Internal.PublishManyAsync(channel, 2);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        Assert.True(connector.Subscribed.Paused);
        Assert.True(await connector.NothingWithinAsync(TimeSpan.FromSeconds(2)));

        await new Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient(shared.Replica.Internal.Channel)
            .ResumeChannelAsync(new Contracts.Admin.V1.ResumeChannelRequest { Channel = channel });

        Assert.Equal(2, (await connector.TakeAsync(2, TimeSpan.FromSeconds(10))).Count);
    }

    [Fact]
    public async Task TwoConnectionsShareTheLoadAndASaturatedOneDoesNotStarveTheOther()
    {
        var (channel, token) = await shared.NewChannelAsync("share", new Dictionary<string, string> { ["max_in_flight"] = "3" });
        await using var slow = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        await using var fast = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        await shared.Replica.Internal.PublishManyAsync(channel, 20);

        // slow never acks: it holds 3; fast acks everything and must receive the other 17.
        var slowHeld = await slow.TakeAsync(3);
        var fastGot = new List<string>();
        while (fastGot.Count < 17)
        {
            var batch = await fast.NextAsync();
            fastGot.Add(batch.Message.MessageId);
            await fast.AckAsync(batch.Message.MessageId);
        }

        Assert.Empty(fastGot.Intersect(slowHeld.Select(d => d.Message.MessageId)));
        Assert.Equal(20, fastGot.Concat(slowHeld.Select(d => d.Message.MessageId)).Distinct().Count());
        Assert.True(await slow.NothingWithinAsync(TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public async Task FlowControlHoldsUnderLoadWithConcurrentPublishersAndOutOfOrderAcks()
    {
        var (channel, token) = await shared.NewChannelAsync("flow-load", new Dictionary<string, string> { ["max_in_flight"] = "7" });
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token, maxInFlight: 20);
        const int Count = 600;
        var publishing = Task.WhenAll(Enumerable.Range(0, 4).Select(p => Task.Run(() => shared.Replica.Internal.PublishManyAsync(channel, Count / 4, $"p{p}"))));

        // Deliveries received minus acks sent is at least what the server counts as unacked (acks are in flight), so
        // it must never exceed the effective max_in_flight.
        var held = new List<string>();
        var seen = new HashSet<string>();
        var maxHeld = 0;
        var random = new Random(7);
        while (seen.Count < Count)
        {
            var delivery = await connector.NextAsync();
            Assert.True(seen.Add(delivery.Message.MessageId), $"{delivery.Message.MessageId} delivered twice");
            held.Add(delivery.Message.MessageId);
            maxHeld = Math.Max(maxHeld, held.Count);
            Assert.True(held.Count <= 7, $"{held.Count} unacked deliveries on a stream limited to 7");
            if (held.Count >= random.Next(1, 8) || connector.Pending == 0)
            {
                // Ack a random subset, out of order.
                var acking = held.Where(_ => random.Next(2) == 0).DefaultIfEmpty(held[^1]).ToArray();
                held.RemoveAll(acking.Contains);
                await connector.AckAsync(acking);
            }
        }

        await publishing;
        Assert.Equal(7u, connector.Subscribed.MaxInFlight);
        Assert.InRange(maxHeld, 2, 7);
        await connector.AckAsync([.. held]);
        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") == Count, Patience, "every message acked");
        Assert.Equal(Count, await shared.StatAsync(channel, "delivered_total"));
    }

    [Fact]
    public async Task ExpiredMessagesAreDeadLetteredWhenTheChannelSaysSo()
    {
        var (channel, token) = await shared.NewChannelAsync("ttl-dlq", new Dictionary<string, string> { ["ttl_ms"] = "1000", ["dead_letter_expired"] = "1" });
        var old = TestMessages.NewMessage(channel, "too old", receivedAt: DateTimeOffset.UtcNow.AddSeconds(-5));
        await shared.Replica.Internal.PublishAsync(old);

        await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "dlq") == 1, Patience, "the expired message dead-lettered by the sweep");
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);

        var info = await shared.Redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:dlq-info", old.MessageId);
        Assert.StartsWith("EXPIRED|0|", info, StringComparison.Ordinal);
        Assert.EndsWith("|0|ttl expired", info, StringComparison.Ordinal);
        Assert.Equal(1, await shared.StatAsync(channel, "expired_total"));
        Assert.True(await connector.NothingWithinAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task MoreThanAThousandMessagesAreLeasedAndAckedWholeInFewScriptCalls()
    {
        // deliver.lua and ack.lua read and write a call's ids in slices of 1024 commands' worth (common.lua read_many,
        // write_many): 2 500 waiting messages and one max_in_flight of 3 000 make a lease call and an ack frame larger
        // than one slice.
        const int Count = 2500;
        var (channel, token) = await shared.NewChannelAsync("slices", new Dictionary<string, string> { ["max_in_flight"] = "3000" });
        var publisher = new PublishService.PublishServiceClient(shared.Replica.Internal.Channel);
        var published = new List<string>(Count);
        for (var start = 0; start < Count; start += 500)
        {
            var batch = new PublishBatchRequest();
            for (var i = start; i < start + 500; i++)
            {
                batch.Messages.Add(TestMessages.NewMessage(channel, $"s-{i}"));
            }

            var response = await publisher.PublishBatchAsync(batch);
            Assert.All(response.Results, r => Assert.Equal(PublishOutcome.Queued, r.Outcome));
            published.AddRange(batch.Messages.Select(m => m.MessageId));
        }

        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token, maxInFlight: 3000);
        var deliveries = await connector.TakeAsync(Count);

        Assert.Equal(published, deliveries.Select(d => d.Message.MessageId));
        Assert.All(deliveries, d => Assert.Equal(1u, d.Message.Attempt));
        Assert.Equal(Count, await shared.CountAsync(channel, "leases"));
        Assert.Equal(Count.ToString(CultureInfo.InvariantCulture), await shared.Redis.ExecuteAsync("HLEN", $"wc:{{{channel}}}:owners"));

        await connector.AckAsync([.. deliveries.Select(d => d.Message.MessageId)]);

        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") == Count, Patience, $"{Count} acks counted");
        Assert.Equal(0, await shared.CountAsync(channel, "leases"));
        Assert.Equal(0, await shared.CountAsync(channel, "expiry"));
        Assert.Equal("0", await shared.Redis.ExecuteAsync("HLEN", $"wc:{{{channel}}}:messages"));
        Assert.Equal("0", await shared.Redis.ExecuteAsync("HLEN", $"wc:{{{channel}}}:owners"));
        Assert.Equal("0", await shared.Redis.ExecuteAsync("HLEN", $"wc:{{{channel}}}:state"));
        Assert.Equal(0, await shared.StatAsync(channel, "queue_bytes"));
        Assert.Equal(Count, await shared.CountAsync(channel, "settled"));
    }

    [Fact]
    public async Task AnAckNamingAMessageTwiceSettlesItOnce()
    {
        var (channel, token) = await shared.NewChannelAsync("ack-twice");
        await shared.Replica.Internal.PublishManyAsync(channel, 2);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var deliveries = await connector.TakeAsync(2);
        var (first, second) = (deliveries[0].Message.MessageId, deliveries[1].Message.MessageId);

        await connector.AckAsync(first, first, second, first);

        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") >= 2, Patience, "the acks counted");
        Assert.Equal(2, await shared.StatAsync(channel, "acked_total"));
        Assert.Equal(0, await shared.StatAsync(channel, "queue_bytes"));
        Assert.Equal(2, await shared.CountAsync(channel, "settled"));
        Assert.Equal("2", await shared.Redis.ExecuteAsync("HLEN", $"wc:{{{channel}}}:hist-env"));
    }
}

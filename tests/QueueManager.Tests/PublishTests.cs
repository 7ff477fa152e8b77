using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Tests.Support;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>The Publish API (publish.proto): idempotency, limits and the statuses ingress maps to HTTP.</summary>
public sealed class PublishTests(SharedQueueManager shared) : IClassFixture<SharedQueueManager>
{
    private PublishService.PublishServiceClient Client => new(shared.Replica.Internal.Channel);

    [Fact]
    public async Task PublishingTheSameMessageIdTwiceQueuesItOnce()
    {
        var (channel, _) = await shared.NewChannelAsync("replay");
        var message = TestMessages.NewMessage(channel, "once");

        var first = await shared.Replica.Internal.PublishAsync(message);
        var second = await shared.Replica.Internal.PublishAsync(message);

        Assert.Equal(PublishOutcome.Queued, first.Outcome);
        Assert.Equal(PublishOutcome.AlreadyQueued, second.Outcome);
        Assert.Equal(message.MessageId, second.MessageId);
        Assert.Equal(1, await shared.CountAsync(channel, "ready"));
        Assert.Equal(1, await shared.StatAsync(channel, "published_total"));
    }

    [Fact]
    public async Task ABatchNamingTheSameMessageIdTwiceQueuesItOnce()
    {
        // The first message of the batch goes to Redis alone (nobody waits for a group to fill); the two copies
        // queued meanwhile reach publish.lua in one call, which writes its messages after checking them all.
        var (channel, _) = await shared.NewChannelAsync("batch-replay");
        var other = TestMessages.NewMessage(channel, "other");
        var message = TestMessages.NewMessage(channel, "once");
        var request = new PublishBatchRequest();
        request.Messages.Add(other);
        request.Messages.Add(message);
        request.Messages.Add(message);

        var response = await Client.PublishBatchAsync(request);
        var peeked = await shared.Admin.PeekMessagesAsync(new Contracts.Admin.V1.PeekMessagesRequest { Channel = channel, Limit = 10 });

        Assert.Equal([PublishOutcome.Queued, PublishOutcome.Queued, PublishOutcome.AlreadyQueued], response.Results.Select(r => r.Outcome));
        Assert.Equal([other.MessageId, message.MessageId], peeked.Messages.Select(m => m.Message.MessageId));
        Assert.Equal(2, await shared.StatAsync(channel, "published_total"));
        Assert.Equal("2", await shared.Redis.ExecuteAsync("HLEN", $"wc:{{{channel}}}:messages"));
        Assert.Equal(2, await shared.CountAsync(channel, "hist"));
    }

    [Fact]
    public async Task AReplayAfterTheMessageWasAckedIsNotQueuedAgain()
    {
        var (channel, token) = await shared.NewChannelAsync("late-replay");
        var message = TestMessages.NewMessage(channel, "acked");
        await shared.Replica.Internal.PublishAsync(message);
        await using (var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token))
        {
            await connector.AckAsync((await connector.NextAsync()).Message.MessageId);
            await TestKit.Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") == 1, QueueManagerProcess.Patience, "the ack");
        }

        var replay = await shared.Replica.Internal.PublishAsync(message);

        Assert.Equal(PublishOutcome.AlreadyQueued, replay.Outcome);
        Assert.Equal(0, await shared.CountAsync(channel, "ready"));
    }

    [Fact]
    public async Task ASecondMessageWithTheSameIdempotencyKeyIsADuplicateOfTheFirst()
    {
        var (channel, _) = await shared.NewChannelAsync("idem");
        var original = TestMessages.NewMessage(channel, "first", idempotencyKey: "delivery-42");
        var retry = TestMessages.NewMessage(channel, "first again", idempotencyKey: "delivery-42");
        var other = TestMessages.NewMessage(channel, "other", idempotencyKey: "delivery-43");

        await shared.Replica.Internal.PublishAsync(original);
        var duplicate = await shared.Replica.Internal.PublishAsync(retry);
        var distinct = await shared.Replica.Internal.PublishAsync(other);

        Assert.Equal(PublishOutcome.Duplicate, duplicate.Outcome);
        Assert.Equal(original.MessageId, duplicate.MessageId);
        Assert.Equal(PublishOutcome.Queued, distinct.Outcome);
        Assert.Equal(2, await shared.CountAsync(channel, "ready"));
        Assert.Equal(1, await shared.StatAsync(channel, "duplicates_total"));
    }

    [Fact]
    public async Task AFullChannelRefusesWithResourceExhaustedAndARetryHintAndDropsNothing()
    {
        var (channel, _) = await shared.NewChannelAsync("full", new Dictionary<string, string> { ["max_queue_size"] = "3" });
        var queued = await shared.Replica.Internal.PublishManyAsync(channel, 3);

        var ex = await Assert.ThrowsAsync<RpcException>(() => shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "one too many")));

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("max_queue_size", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("5000", ex.Trailers.GetValue("retry-after-ms"));
        Assert.Equal(3, await shared.CountAsync(channel, "ready"));
        Assert.Equal(1, await shared.StatAsync(channel, "rejected_total"));
        Assert.Equal(3, queued.Count);
    }

    [Fact]
    public async Task AnUnknownChannelIsNotFound()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => shared.Replica.Internal.PublishAsync(TestMessages.NewMessage("no-such-channel", "x")));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Contains("no-such-channel", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABodyOverTheChannelLimitIsOutOfRange()
    {
        var (channel, _) = await shared.NewChannelAsync("small", new Dictionary<string, string> { ["max_message_bytes"] = "10" });
        var message = TestMessages.NewMessage(channel, "eleven byte");

        var ex = await Assert.ThrowsAsync<RpcException>(() => shared.Replica.Internal.PublishAsync(message));

        Assert.Equal(StatusCode.OutOfRange, ex.StatusCode);
        Assert.Contains("max_message_bytes = 10", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, await shared.CountAsync(channel, "ready"));
    }

    [Theory]
    [InlineData("message_id", "message.message_id")]
    [InlineData("channel", "message.channel")]
    [InlineData("endpoint_id", "message.endpoint_id")]
    [InlineData("received_at", "message.received_at")]
    public async Task AMalformedMessageIsInvalidArgumentNamingTheField(string field, string named)
    {
        var message = TestMessages.NewMessage("whatever", "x");
        switch (field)
        {
            case "message_id": message.MessageId = "has space"; break;
            case "channel": message.Channel = "Bad/Name"; break;
            case "endpoint_id": message.EndpointId = ""; break;
            case "received_at": message.ReceivedAt = null; break;
        }

        var ex = await Assert.ThrowsAsync<RpcException>(() => shared.Replica.Internal.PublishAsync(message));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(named, ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMessageOverTheGrpcLimitIsRefusedAndTheServerKeepsServing()
    {
        var (channel, _) = await shared.NewChannelAsync("huge");
        var message = TestMessages.NewMessage(channel, "");
        message.Body = ByteString.CopyFrom(new byte[17 * 1024 * 1024]);

        var ex = await Assert.ThrowsAsync<RpcException>(() => shared.Replica.Internal.PublishAsync(message));

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Null(ex.Trailers.GetValue("retry-after-ms"));
        Assert.Equal(PublishOutcome.Queued, (await shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "small"))).Outcome);
    }

    [Fact]
    public async Task ABatchKeepsPerChannelOrderAfterAFailure()
    {
        var (full, _) = await shared.NewChannelAsync("batch-full", new Dictionary<string, string> { ["max_queue_size"] = "1" });
        var (open, _) = await shared.NewChannelAsync("batch-open");
        var request = new PublishBatchRequest();
        request.Messages.Add(TestMessages.NewMessage(full, "fits"));
        request.Messages.Add(TestMessages.NewMessage(full, "refused"));
        request.Messages.Add(TestMessages.NewMessage(open, "other channel"));
        request.Messages.Add(TestMessages.NewMessage(full, "refused as well"));

        var response = await Client.PublishBatchAsync(request);

        Assert.Equal([PublishOutcome.Queued, PublishOutcome.Unspecified, PublishOutcome.Queued, PublishOutcome.Unspecified], response.Results.Select(r => r.Outcome));
        Assert.Equal((int)StatusCode.ResourceExhausted, response.Results[1].ErrorCode);
        Assert.Equal((int)StatusCode.ResourceExhausted, response.Results[3].ErrorCode);
        Assert.Equal(5, response.Results[3].RetryAfter.Seconds);
        Assert.Equal(2, await shared.StatAsync(full, "rejected_total"));
        Assert.Equal(1, await shared.CountAsync(full, "ready"));
        Assert.Equal(request.Messages.Select(m => m.MessageId), response.Results.Select(r => r.MessageId));
    }

    [Fact]
    public async Task ABatchIsQueuedInBatchOrderAndAMessageAfterAnInvalidOneIsNotTried()
    {
        var (channel, _) = await shared.NewChannelAsync("batch-order");
        var (other, _) = await shared.NewChannelAsync("batch-order-b");
        var request = new PublishBatchRequest();
        for (var i = 0; i < 100; i++)
        {
            request.Messages.Add(TestMessages.NewMessage(channel, $"m{i}"));
        }

        request.Messages.Add(TestMessages.NewMessage(other, "valid"));
        var invalid = TestMessages.NewMessage(other, "invalid");
        invalid.EndpointId = "Not Valid";
        request.Messages.Add(invalid);
        request.Messages.Add(TestMessages.NewMessage(other, "after the invalid one"));

        var response = await Client.PublishBatchAsync(request);
        var peeked = await shared.Admin.PeekMessagesAsync(new Contracts.Admin.V1.PeekMessagesRequest { Channel = channel, Limit = 100 });

        Assert.All(response.Results.Take(101), r => Assert.Equal(PublishOutcome.Queued, r.Outcome));
        Assert.Equal((int)StatusCode.InvalidArgument, response.Results[101].ErrorCode);
        Assert.Equal((int)StatusCode.InvalidArgument, response.Results[102].ErrorCode);
        Assert.Equal(1, await shared.CountAsync(other, "ready"));
        Assert.Equal(request.Messages.Take(100).Select(m => m.MessageId), peeked.Messages.Select(m => m.Message.MessageId));
    }

    [Fact]
    public async Task ConcurrentPublishesRespectTheQueueLimitExactly()
    {
        var (channel, _) = await shared.NewChannelAsync("concurrent-full", new Dictionary<string, string> { ["max_queue_size"] = "20" });

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 60).Select(async i =>
        {
            try
            {
                return (await shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(channel, $"c{i}"))).Outcome.ToString();
            }
            catch (RpcException ex)
            {
                return ex.StatusCode.ToString();
            }
        }));

        Assert.Equal(20, outcomes.Count(o => o == nameof(PublishOutcome.Queued)));
        Assert.Equal(40, outcomes.Count(o => o == nameof(StatusCode.ResourceExhausted)));
        Assert.Equal(20, await shared.CountAsync(channel, "ready"));
        Assert.Equal(40, await shared.StatAsync(channel, "rejected_total"));
    }

    [Fact]
    public async Task ConcurrentPublishesOfOneIdOrOneIdempotencyKeyQueueOnce()
    {
        var (channel, _) = await shared.NewChannelAsync("concurrent-idem");
        var same = TestMessages.NewMessage(channel, "same id");
        var keyed = Enumerable.Range(0, 30).Select(i => TestMessages.NewMessage(channel, $"keyed {i}", idempotencyKey: "evt_1")).ToList();

        var sameOutcomes = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => shared.Replica.Internal.PublishAsync(same)));
        var keyedOutcomes = await Task.WhenAll(keyed.Select(m => shared.Replica.Internal.PublishAsync(m)));

        Assert.Equal(1, sameOutcomes.Count(r => r.Outcome == PublishOutcome.Queued));
        Assert.Equal(29, sameOutcomes.Count(r => r.Outcome == PublishOutcome.AlreadyQueued));
        var original = keyedOutcomes.Single(r => r.Outcome == PublishOutcome.Queued).MessageId;
        Assert.All(keyedOutcomes.Where(r => r.Outcome != PublishOutcome.Queued), r => Assert.Equal((PublishOutcome.Duplicate, original), (r.Outcome, r.MessageId)));
        Assert.Equal(2, await shared.CountAsync(channel, "ready"));
        Assert.Equal(29, await shared.StatAsync(channel, "duplicates_total"));
    }
}

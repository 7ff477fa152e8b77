using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>The queue side of the internal admin API: stats, dead letters, peek, connections, disconnect.</summary>
public sealed class QueueAdminTests(SharedQueueManager shared) : IClassFixture<SharedQueueManager>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    private QueueAdminService.QueueAdminServiceClient Admin => new(shared.Replica.Internal.Channel);

    [Fact]
    public async Task StatsCountEveryStateAndCounter()
    {
        var (channel, token) = await shared.NewChannelAsync("stats", new Dictionary<string, string>
        {
            ["max_in_flight"] = "3",
            ["max_queue_size"] = "6",
            ["backoff_initial_ms"] = "600000",
            ["backoff_max_ms"] = "600000",
        });
        var published = await shared.Replica.Internal.PublishManyAsync(channel, 6);
        await Assert.ThrowsAsync<RpcException>(() => shared.Replica.Internal.PublishAsync(TestMessages.NewMessage(channel, "rejected")));
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var held = await connector.TakeAsync(3);
        await connector.AckAsync(held[0].Message.MessageId);
        await connector.NackAsync(held[1].Message.MessageId, retry: true);
        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "nacked_total") == 1, Patience, "the nack");
        // The freed credits take two more; let them arrive so the numbers are stable.
        await connector.TakeAsync(2);

        var stats = (await Admin.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel })).Stats;

        Assert.Equal(channel, stats.Channel);
        Assert.Equal(1u, stats.MessagesQueued);
        Assert.Equal(3u, stats.MessagesInFlight);
        Assert.Equal(1u, stats.MessagesDelayed);
        Assert.Equal(1u, stats.Connections);
        Assert.Equal(6ul, stats.PublishedTotal);
        Assert.Equal(5ul, stats.DeliveredTotal);
        Assert.Equal(1ul, stats.AckedTotal);
        Assert.Equal(1ul, stats.NackedTotal);
        Assert.Equal(1ul, stats.RejectedTotal);
        Assert.Equal(published[5].ReceivedAt, stats.OldestQueuedReceivedAt);
    }

    [Fact]
    public async Task DeadLettersCanBeListedInspectedReplayedAndPurged()
    {
        var (channel, token) = await shared.NewChannelAsync("dlq");
        var published = await shared.Replica.Internal.PublishManyAsync(channel, 3);
        await using (var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token))
        {
            foreach (var delivery in await connector.TakeAsync(3))
            {
                await connector.NackAsync(delivery.Message.MessageId, retry: false, "HTTP 422: nope", 422);
            }

            await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "dlq") == 3, Patience, "3 dead letters");
        }

        var list = await Admin.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = channel, PageSize = 2 });
        Assert.Equal(3u, list.Total);
        Assert.Equal(2, list.Messages.Count);
        Assert.Empty(list.Messages[0].Message.Body);
        Assert.Equal(DeadLetterReason.Rejected, list.Messages[0].Reason);
        Assert.Equal("HTTP 422: nope", list.Messages[0].LastError);
        Assert.Equal(422u, list.Messages[0].LastStatusCode);
        var rest = await Admin.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = channel, PageSize = 2, PageToken = list.NextPageToken });
        Assert.Single(rest.Messages);
        Assert.Equal("", rest.NextPageToken);
        Assert.Equal(published.Select(m => m.MessageId).Order(), list.Messages.Concat(rest.Messages).Select(d => d.Message.MessageId).Order());

        var one = (await Admin.GetDeadLetterAsync(new GetDeadLetterRequest { Channel = channel, MessageId = published[1].MessageId })).DeadLetter;
        Assert.Equal(published[1].Body, one.Message.Body);
        Assert.Equal(1u, one.Attempts);

        var replay = await Admin.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Channel = channel, MessageIds = { published[0].MessageId, "not-there" } });
        Assert.Equal(1u, replay.Replayed);
        Assert.Equal(["not-there"], replay.NotFound);
        var purge = await Admin.PurgeDeadLettersAsync(new PurgeDeadLettersRequest { Channel = channel, All = true });
        Assert.Equal(2u, purge.Purged);
        Assert.Equal(0, await shared.CountAsync(channel, "dlq"));

        await using var again = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var replayed = await again.NextAsync();
        Assert.Equal(published[0].MessageId, replayed.Message.MessageId);
        Assert.Equal(1u, replayed.Message.Attempt);
        Assert.True(await again.NothingWithinAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task ReplayAndPurgeNeedExactlyOneSelection()
    {
        var (channel, _) = await shared.NewChannelAsync("selection");

        var neither = await Assert.ThrowsAsync<RpcException>(() => Admin.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Channel = channel }).ResponseAsync);
        var both = await Assert.ThrowsAsync<RpcException>(() => Admin.PurgeDeadLettersAsync(new PurgeDeadLettersRequest { Channel = channel, All = true, MessageIds = { "x" } }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, neither.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, both.StatusCode);
    }

    [Fact]
    public async Task PeekShowsWaitingMessagesInDeliveryOrderWithoutTakingThem()
    {
        var (channel, _) = await shared.NewChannelAsync("peek");
        var published = await shared.Replica.Internal.PublishManyAsync(channel, 4);

        var peek = await Admin.PeekMessagesAsync(new PeekMessagesRequest { Channel = channel, Limit = 3, IncludeBody = true });
        var withoutBodies = await Admin.PeekMessagesAsync(new PeekMessagesRequest { Channel = channel });

        Assert.Equal(published.Take(3).Select(m => m.MessageId), peek.Messages.Select(w => w.Message.MessageId));
        Assert.Equal(published[0].Body, peek.Messages[0].Message.Body);
        Assert.Equal(4, withoutBodies.Messages.Count);
        Assert.All(withoutBodies.Messages, w => Assert.Empty(w.Message.Body));
        Assert.Equal((uint)published[0].Body.Length, withoutBodies.Messages[0].BodySize);
        Assert.Equal(4, await shared.CountAsync(channel, "ready"));
    }

    [Fact]
    public async Task ConnectionsAreListedAndAnOperatorCanDisconnectOne()
    {
        var (channel, token) = await shared.NewChannelAsync("conns", new Dictionary<string, string> { ["ack_timeout_ms"] = "600000" });
        await shared.Replica.Internal.PublishManyAsync(channel, 2);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token, connectorId: "pod-a");
        await connector.TakeAsync(2);

        var listed = (await Admin.ListConnectionsAsync(new ListConnectionsRequest { Channel = channel })).Connections;
        Assert.Single(listed);
        Assert.Equal(connector.Subscribed.ConnectionId, listed[0].ConnectionId);
        Assert.Equal("pod-a", listed[0].ConnectorId);
        Assert.Equal(shared.Replica.ReplicaId, listed[0].ReplicaId);
        Assert.Equal(TokenGeneration.Current, listed[0].Token);

        var response = await Admin.DisconnectConnectionAsync(new DisconnectConnectionRequest
        {
            Channel = channel,
            ConnectionId = connector.Subscribed.ConnectionId,
            Reason = "maintenance window",
        });

        Assert.Equal(shared.Replica.ReplicaId, response.ReplicaId);
        var status = await connector.Ended.WaitAsync(Patience);
        Assert.Equal(StatusCode.Aborted, status.StatusCode);
        Assert.Contains("maintenance window", status.Detail, StringComparison.Ordinal);
        Assert.Empty((await Admin.ListConnectionsAsync(new ListConnectionsRequest { Channel = channel })).Connections);
        await Eventually.UntilAsync(async () => await shared.CountAsync(channel, "ready") == 2, Patience, "the disconnected stream's leases released");
        var missing = await Assert.ThrowsAsync<RpcException>(() => Admin.DisconnectConnectionAsync(new DisconnectConnectionRequest { ConnectionId = connector.Subscribed.ConnectionId }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task OverviewSumsChannelsAndListsTheReplica()
    {
        var (channel, _) = await shared.NewChannelAsync("overview");
        await shared.Replica.Internal.PublishManyAsync(channel, 2);

        var overview = (await Admin.GetOverviewAsync(new GetOverviewRequest { IncludeChannels = true })).Overview;

        Assert.Equal((uint)overview.Channels.Count, overview.TotalChannels);
        Assert.Equal(2u, overview.Channels.Single(c => c.Channel == channel).MessagesQueued);
        Assert.Equal(overview.Channels.Aggregate(0ul, (sum, c) => sum + c.PublishedTotal), overview.Totals.PublishedTotal);
        await Eventually.UntilAsync(
            async () => (await Admin.GetOverviewAsync(new GetOverviewRequest())).Overview.Replicas.Any(r => r.ReplicaId == shared.Replica.ReplicaId),
            Patience,
            "the replica's heartbeat in the overview");
    }

    [Fact]
    public async Task UnknownChannelsAreNotFoundAndBadNamesInvalid()
    {
        var unknown = await Assert.ThrowsAsync<RpcException>(() => Admin.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = "nope" }).ResponseAsync);
        var bad = await Assert.ThrowsAsync<RpcException>(() => Admin.PeekMessagesAsync(new PeekMessagesRequest { Channel = "UPPER" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.StartsWith("channel = 'UPPER'", bad.Status.Detail, StringComparison.Ordinal);
    }
}

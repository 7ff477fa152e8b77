using Grpc.Core;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>SPEC §7: the Connect stream's handshake, statuses and lifecycle.</summary>
public sealed class ConnectProtocolTests(SharedQueueManager shared) : IClassFixture<SharedQueueManager>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    private static ConnectRequest Subscribe(string channel, uint maxInFlight = 0) =>
        new() { Subscribe = new Subscribe { Channel = channel, MaxInFlight = maxInFlight } };

    [Fact]
    public async Task AFirstFrameOtherThanSubscribeIsInvalidArgument()
    {
        var (_, token) = await shared.NewChannelAsync("first-frame");

        var status = await TestConnector.RefusedAsync(shared.Replica.Channel, token, new ConnectRequest { Ack = new Ack { MessageIds = { "x" } } });

        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.Contains("first frame must be subscribe", status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMalformedChannelNameIsInvalidArgument()
    {
        var status = await TestConnector.RefusedAsync(shared.Replica.Channel, "whatever", Subscribe("../etc/passwd"));

        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.StartsWith("subscribe.channel = '../etc/passwd'", status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingTokenIsUnauthenticated()
    {
        var (channel, _) = await shared.NewChannelAsync("no-token");

        var status = await TestConnector.RefusedAsync(shared.Replica.Channel, token: null, Subscribe(channel));

        Assert.Equal(StatusCode.Unauthenticated, status.StatusCode);
        Assert.Contains("Bearer", status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWrongTokenIsUnauthenticatedAndTheTokenOfAnotherChannelToo()
    {
        var (channel, _) = await shared.NewChannelAsync("wrong-token");
        var (_, otherToken) = await shared.NewChannelAsync("other");

        var wrong = await TestConnector.RefusedAsync(shared.Replica.Channel, "wct_not_the_token_at_all_0123456789", Subscribe(channel));
        var other = await TestConnector.RefusedAsync(shared.Replica.Channel, otherToken, Subscribe(channel));

        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, other.StatusCode);
        Assert.DoesNotContain(otherToken, other.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownChannelIsNotFound()
    {
        var status = await TestConnector.RefusedAsync(shared.Replica.Channel, "wct_whatever_token_0123456789abcdef", Subscribe("never-created"));

        Assert.Equal(StatusCode.NotFound, status.StatusCode);
    }

    [Fact]
    public async Task MaxConnectionsIsEnforcedAndAFreedSlotCanBeReused()
    {
        var (channel, token) = await shared.NewChannelAsync("limit", new Dictionary<string, string> { ["max_connections"] = "2" });
        var first = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        await using var second = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);

        var refused = await Assert.ThrowsAsync<RpcException>(() => TestConnector.ConnectAsync(shared.Replica.Channel, channel, token));
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("max_connections", refused.Status.Detail, StringComparison.Ordinal);

        await first.CompleteAsync();
        await first.Ended.WaitAsync(Patience);
        await first.DisposeAsync();
        await using var third = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        Assert.StartsWith("conn_", third.Subscribed.ConnectionId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubscribedCarriesTheEffectiveSettings()
    {
        var (channel, token) = await shared.NewChannelAsync("subscribed", new Dictionary<string, string> { ["max_in_flight"] = "7", ["ack_timeout_ms"] = "12000" });

        await using var asksLess = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token, maxInFlight: 3);
        await using var asksDefault = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token, maxInFlight: 0);

        Assert.Equal(3u, asksLess.Subscribed.MaxInFlight);
        Assert.Equal(7u, asksDefault.Subscribed.MaxInFlight);
        Assert.Equal(TimeSpan.FromSeconds(12), asksLess.Subscribed.AckTimeout.ToTimeSpan());
        Assert.Equal(shared.Replica.ReplicaId, asksLess.Subscribed.ReplicaId);
        Assert.NotEqual(asksLess.Subscribed.ConnectionId, asksDefault.Subscribed.ConnectionId);
    }

    [Fact]
    public async Task ASecondSubscribeOnAnEstablishedStreamIsInvalidArgument()
    {
        var (channel, token) = await shared.NewChannelAsync("twice");
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);

        await connector.SendAsync(Subscribe(channel));

        var status = await connector.Ended.WaitAsync(Patience);
        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.Contains("second subscribe", status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeletingTheChannelClosesItsStreamsWithNotFound()
    {
        var (channel, token) = await shared.NewChannelAsync("deleted", new Dictionary<string, string> { ["max_in_flight"] = "1" });
        await shared.Replica.Internal.PublishManyAsync(channel, 3);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        await connector.NextAsync();

        await new Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient(shared.Replica.Internal.Channel)
            .DeleteChannelAsync(new Contracts.Admin.V1.DeleteChannelRequest { Channel = channel });

        // Through the delete event, well before the 5 s registration refresh would notice.
        var status = await connector.Ended.WaitAsync(TimeSpan.FromSeconds(3));
        Assert.Equal(StatusCode.NotFound, status.StatusCode);
        Assert.Equal("0", await shared.Redis.ExecuteAsync("EXISTS", $"wc:{{{channel}}}:channel", $"wc:{{{channel}}}:ready", $"wc:{{{channel}}}:leases", $"wc:{{{channel}}}:messages"));
    }

    [Fact]
    public async Task StopDeliveriesStopsNewDeliveriesButStillAcceptsAcks()
    {
        var (channel, token) = await shared.NewChannelAsync("stop", new Dictionary<string, string> { ["max_in_flight"] = "2" });
        await shared.Replica.Internal.PublishManyAsync(channel, 4);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var held = await connector.TakeAsync(2);

        await connector.StopDeliveriesAsync();
        await connector.AckAsync([.. held.Select(d => d.Message.MessageId)]);
        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") == 2, Patience, "the acks after stop_deliveries");

        Assert.True(await connector.NothingWithinAsync(TimeSpan.FromSeconds(1)));
        await connector.CompleteAsync();
        Assert.Equal(StatusCode.OK, (await connector.Ended.WaitAsync(Patience)).StatusCode);
        Assert.Equal(2, await shared.CountAsync(channel, "ready"));
    }
}

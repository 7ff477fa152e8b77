using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>Two queue-manager replicas on one redis-server, for the message history (issue 17): what is published on
/// one and settled through the other is listed the same by both.</summary>
public sealed class HistoryReplicas : IAsyncLifetime
{
    public RedisServer Redis { get; private set; } = null!;

    public QueueManagerProcess A { get; private set; } = null!;

    /// <summary>Serves tails with a small buffer (QueueManager:TailBufferEvents = 64), for the slow-reader test.</summary>
    public QueueManagerProcess B { get; private set; } = null!;

    public QueueAdminService.QueueAdminServiceClient AdminA => new(A.Internal.Channel);

    public QueueAdminService.QueueAdminServiceClient AdminB => new(B.Internal.Channel);

    public async ValueTask InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        var a = QueueManagerProcess.StartAsync(Redis.Endpoint, replicaId: "hist-a");
        var b = QueueManagerProcess.StartAsync(Redis.Endpoint, new Dictionary<string, string> { ["QueueManager:TailBufferEvents"] = "64" }, replicaId: "hist-b");
        A = await a;
        B = await b;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in new[] { A, B })
        {
            if (replica is not null)
            {
                await replica.DisposeAsync();
            }
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }

    public async Task<(string Name, string Token)> NewChannelAsync(string prefix, IReadOnlyDictionary<string, string>? settings = null)
    {
        var name = TestChannels.UniqueName(prefix);
        return (name, await TestChannels.CreateAsync(A.Internal, name, settings));
    }

    public async Task<long> StatAsync(string channel, string counter)
    {
        var value = await Redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:stats", counter);
        return value is null ? 0 : long.Parse(value, CultureInfo.InvariantCulture);
    }

    /// <summary>The bytes the history holds for settled messages, measured in Redis (envelopes plus records).</summary>
    public async Task<long> SettledBytesAsync(string channel, IEnumerable<string> ids)
    {
        long total = 0;
        foreach (var id in ids)
        {
            total += long.Parse((await Redis.ExecuteAsync("HSTRLEN", $"wc:{{{channel}}}:hist-env", id))!, CultureInfo.InvariantCulture);
            total += long.Parse((await Redis.ExecuteAsync("HSTRLEN", $"wc:{{{channel}}}:hist-rec", id))!, CultureInfo.InvariantCulture);
        }

        return total;
    }
}

public sealed class HistoryTests(HistoryReplicas replicas) : IClassFixture<HistoryReplicas>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    private static async Task<List<string>> ListIdsAsync(QueueAdminService.QueueAdminServiceClient admin, ListMessagesRequest request)
    {
        var ids = new List<string>();
        while (true)
        {
            var page = await admin.ListMessagesAsync(request);
            ids.AddRange(page.Messages.Select(m => m.Message.MessageId));
            if (page.NextPageToken.Length == 0)
            {
                return ids;
            }

            request = request.Clone();
            request.PageToken = page.NextPageToken;
        }
    }

    private static Ack AckWithReport(string id, uint status, double ms) => new()
    {
        MessageIds = { id },
        Reports = { new TargetReport { MessageId = id, TargetStatusCode = status, TargetDuration = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(ms)) } },
    };

    [Fact]
    public async Task HistoryListsEveryMessageNewestFirstWithItsDeliveryRecordOnBothReplicas()
    {
        var (channel, token) = await replicas.NewChannelAsync("hist-list");
        var published = await replicas.A.Internal.PublishManyAsync(channel, 3);
        await using var connector = await TestConnector.ConnectAsync(replicas.B.Channel, channel, token, connectorId: "laptop-1");
        var deliveries = await connector.TakeAsync(3);

        await connector.SendAsync(new ConnectRequest { Ack = AckWithReport(published[0].MessageId, 200, 12.5) });
        await connector.AckAsync(published[1].MessageId);
        await connector.SendAsync(new ConnectRequest
        {
            Nack = new Nack { MessageId = published[2].MessageId, Retry = false, Reason = "target said no", TargetStatusCode = 422, TargetDuration = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(3)) },
        });
        await Eventually.UntilAsync(async () => await replicas.StatAsync(channel, "acked_total") == 2 && await replicas.StatAsync(channel, "dead_lettered_total") == 1, Patience, "2 acks and 1 dead letter");

        foreach (var admin in new[] { replicas.AdminA, replicas.AdminB })
        {
            var page = await admin.ListMessagesAsync(new ListMessagesRequest { Channel = channel });
            Assert.Equal(published.Select(m => m.MessageId).Reverse(), page.Messages.Select(m => m.Message.MessageId));
            Assert.Equal([MessageState.DeadLettered, MessageState.Acked, MessageState.Acked], page.Messages.Select(m => m.State));
            Assert.All(page.Messages, m => Assert.True(m.Message.Body.IsEmpty));
            Assert.Equal("", page.NextPageToken);
        }

        var first = (await replicas.AdminA.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = published[0].MessageId })).Record;
        var expected = published[0].Clone();
        expected.Attempt = 1;
        Assert.Equal(expected, first.Message);
        Assert.Equal((uint)published[0].Body.Length, first.BodySize);
        Assert.Equal(MessageState.Acked, first.State);
        Assert.NotNull(first.SettledAt);
        var attempt = Assert.Single(first.Attempts);
        Assert.Equal((0u, 1u, connector.Subscribed.ConnectionId, "laptop-1", "grpc"), (attempt.Series, attempt.Attempt, attempt.ConnectionId, attempt.ConnectorId, attempt.Protocol));
        Assert.Equal((AttemptOutcome.Acked, 200u, TimeSpan.FromMilliseconds(12.5), ""), (attempt.Outcome, attempt.TargetStatusCode, attempt.TargetDuration.ToTimeSpan(), attempt.Error));
        Assert.True(attempt.SettledAt.ToDateTimeOffset() >= attempt.DeliveredAt.ToDateTimeOffset());
        Assert.Equal(deliveries[0].Message.MessageId, published[0].MessageId);

        var second = (await replicas.AdminB.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = published[1].MessageId })).Record;
        Assert.Equal((AttemptOutcome.Acked, 0u, null), (second.Attempts.Single().Outcome, second.Attempts.Single().TargetStatusCode, second.Attempts.Single().TargetDuration));

        var dead = (await replicas.AdminB.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = published[2].MessageId })).Record;
        Assert.Equal((MessageState.DeadLettered, DeadLetterReason.Rejected), (dead.State, dead.DeadLetterReason));
        Assert.Equal((AttemptOutcome.NackedRejected, 422u, TimeSpan.FromMilliseconds(3), "target said no"),
            (dead.Attempts.Single().Outcome, dead.Attempts.Single().TargetStatusCode, dead.Attempts.Single().TargetDuration.ToTimeSpan(), dead.Attempts.Single().Error));

        var stats = (await replicas.AdminB.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel })).Stats;
        Assert.Equal(3u, stats.HistoryMessages);
        Assert.Equal((ulong)await replicas.SettledBytesAsync(channel, [published[0].MessageId, published[1].MessageId]), stats.HistoryBytes);
        Assert.True(stats.HistoryBytes > (ulong)(published[0].CalculateSize() + published[1].CalculateSize()));
        var missing = await Assert.ThrowsAsync<RpcException>(() => replicas.AdminA.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = "msg_nope" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task DeletingAChannelDeletesItsHistory()
    {
        var (channel, token) = await replicas.NewChannelAsync("hist-delete");
        await replicas.A.Internal.PublishManyAsync(channel, 2);
        await using (var connector = await TestConnector.ConnectAsync(replicas.B.Channel, channel, token))
        {
            var deliveries = await connector.TakeAsync(2);
            await connector.AckAsync(deliveries[0].Message.MessageId);
            await Eventually.UntilAsync(async () => await replicas.StatAsync(channel, "history_bytes") > 0, Patience, "a settled entry");
        }

        string[] keys = ["hist", "hist-rec", "hist-env", "hist-settled"];
        foreach (var key in keys)
        {
            Assert.Equal("1", await replicas.Redis.ExecuteAsync("EXISTS", $"wc:{{{channel}}}:{key}"));
        }

        await replicas.AdminB.DeleteChannelAsync(new DeleteChannelRequest { Channel = channel });

        foreach (var key in keys)
        {
            Assert.Equal("0", await replicas.Redis.ExecuteAsync("EXISTS", $"wc:{{{channel}}}:{key}"));
        }

        var gone = await Assert.ThrowsAsync<RpcException>(() => replicas.AdminA.ListMessagesAsync(new ListMessagesRequest { Channel = channel }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task HistoryForgetsMessagesOlderThanItsRetentionButNotTheQueue()
    {
        var (channel, token) = await replicas.NewChannelAsync("hist-time", new Dictionary<string, string> { ["history_retention_ms"] = "1500" });
        var published = await replicas.A.Internal.PublishManyAsync(channel, 2);
        await using (var connector = await TestConnector.ConnectAsync(replicas.B.Channel, channel, token, maxInFlight: 1))
        {
            var delivery = await connector.NextAsync();
            await connector.AckAsync(delivery.Message.MessageId);
            await Eventually.UntilAsync(async () => await replicas.StatAsync(channel, "acked_total") == 1, Patience, "the first ack");
            await connector.StopDeliveriesAsync();
        }

        Assert.Equal(2, (await ListIdsAsync(replicas.AdminA, new ListMessagesRequest { Channel = channel })).Count);
        await Eventually.UntilAsync(async () => (await ListIdsAsync(replicas.AdminB, new ListMessagesRequest { Channel = channel })).Count == 0, Patience, "the history emptied by its retention");

        Assert.Equal(0, await replicas.StatAsync(channel, "history_bytes"));
        Assert.Equal("0", await replicas.Redis.ExecuteAsync("HLEN", $"wc:{{{channel}}}:hist-rec"));
        Assert.Equal("0", await replicas.Redis.ExecuteAsync("HLEN", $"wc:{{{channel}}}:hist-env"));
        // The second message is still queued: history retention never touches the queue.
        Assert.Equal("1", await replicas.Redis.ExecuteAsync("HLEN", $"wc:{{{channel}}}:messages"));
        var later = TestMessages.NewMessage(channel, "later");
        await replicas.A.Internal.PublishAsync(later);
        Assert.Equal([later.MessageId], await ListIdsAsync(replicas.AdminB, new ListMessagesRequest { Channel = channel }));
        Assert.NotEqual(published[0].MessageId, later.MessageId);
    }

    [Fact]
    public async Task HistoryKeepsOnlyWhatItsByteBudgetHoldsDroppingTheOldestSettledFirst()
    {
        var receivedAt = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60);
        var (channel, token) = await replicas.NewChannelAsync("hist-bytes", new Dictionary<string, string> { ["history_max_bytes"] = "5000" });
        var messages = Enumerable.Range(0, 5).Select(i => TestMessages.NewMessage(channel, new string('x', 2000), receivedAt: receivedAt.AddSeconds(i))).ToList();
        foreach (var message in messages)
        {
            await replicas.A.Internal.PublishAsync(message);
        }

        await using (var connector = await TestConnector.ConnectAsync(replicas.B.Channel, channel, token))
        {
            var deliveries = await connector.TakeAsync(5);
            await connector.AckAsync([.. deliveries.Select(d => d.Message.MessageId)]);
            await Eventually.UntilAsync(async () => await replicas.StatAsync(channel, "acked_total") == 5, Patience, "5 acks");
        }

        var live = TestMessages.NewMessage(channel, new string('y', 2000), receivedAt: receivedAt.AddSeconds(10));
        await replicas.A.Internal.PublishAsync(live);

        // Each settled entry is ~2 100 bytes of envelope plus its record: two fit in 5 000 bytes, three do not. The
        // message still queued is listed whatever the budget (max_queue_bytes counts it).
        var ids = await ListIdsAsync(replicas.AdminA, new ListMessagesRequest { Channel = channel });
        Assert.Equal([live.MessageId, messages[4].MessageId, messages[3].MessageId], ids);
        var held = await replicas.StatAsync(channel, "history_bytes");
        Assert.Equal(await replicas.SettledBytesAsync(channel, [messages[4].MessageId, messages[3].MessageId]), held);
        Assert.InRange(held, 4200, 5000);
        var gone = await Assert.ThrowsAsync<RpcException>(() => replicas.AdminB.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = messages[2].MessageId }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task EachFilterReturnsExactlyTheMatchingMessages()
    {
        var (channel, token) = await replicas.NewChannelAsync("hist-filter");
        var t0 = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 600);
        var m = new List<Message>();
        for (var i = 0; i < 6; i++)
        {
            var message = TestMessages.NewMessage(channel, $"body-{i}", idempotencyKey: i == 4 ? "evt_4" : "", receivedAt: t0.AddMinutes(i));
            message.EndpointId = i % 2 == 0 ? "ep-a" : "ep-b";
            message.EndpointNamespace = i == 3 ? "team" : "";
            message.Headers.Add(new Header { Name = "X-GitHub-Delivery", Value = ByteString.CopyFromUtf8($"gh-{i % 3}") });
            await replicas.A.Internal.PublishAsync(message);
            m.Add(message);
        }

        // 0 and 1 acked, 2 dead-lettered, 3 in flight, 4 and 5 waiting.
        await using var connector = await TestConnector.ConnectAsync(replicas.B.Channel, channel, token, maxInFlight: 4);
        var deliveries = await connector.TakeAsync(4);
        Assert.Equal(m.Take(4).Select(x => x.MessageId), deliveries.Select(d => d.Message.MessageId));
        await connector.StopDeliveriesAsync();
        await connector.AckAsync(m[0].MessageId, m[1].MessageId);
        await connector.NackAsync(m[2].MessageId, retry: false);
        await Eventually.UntilAsync(async () => await replicas.StatAsync(channel, "dead_lettered_total") == 1 && await replicas.StatAsync(channel, "acked_total") == 2, Patience, "acks and the dead letter");

        string[] Ids(params int[] indexes) => [.. indexes.Select(i => m[i].MessageId)];
        ListMessagesRequest Request() => new() { Channel = channel };
        var admin = replicas.AdminB;

        Assert.Equal(Ids(5, 4, 3, 2, 1, 0), await ListIdsAsync(admin, Request()));
        var acked = Request();
        acked.States.Add(MessageState.Acked);
        Assert.Equal(Ids(1, 0), await ListIdsAsync(admin, acked));
        var live = Request();
        live.States.Add([MessageState.Waiting, MessageState.InFlight, MessageState.DeadLettered]);
        Assert.Equal(Ids(3, 2), await ListIdsAsync(admin, Clone(live, r => r.States.Remove(MessageState.Waiting))));
        Assert.Equal(Ids(5, 4, 3, 2), await ListIdsAsync(admin, live));
        Assert.Equal(Ids(5, 3, 1), await ListIdsAsync(admin, Clone(Request(), r => r.Endpoint = "ep-b")));
        Assert.Equal(Ids(3), await ListIdsAsync(admin, Clone(Request(), r => r.Endpoint = "team/ep-b")));
        Assert.Equal(Ids(2, 1), await ListIdsAsync(admin, Clone(Request(), r =>
        {
            r.ReceivedAfter = Timestamp.FromDateTimeOffset(t0.AddMinutes(1));
            r.ReceivedBefore = Timestamp.FromDateTimeOffset(t0.AddMinutes(3));
        })));
        Assert.Equal(Ids(4), await ListIdsAsync(admin, Clone(Request(), r => r.IdempotencyKey = "evt_4")));
        Assert.Equal(Ids(4, 1), await ListIdsAsync(admin, Clone(Request(), r =>
        {
            r.HeaderName = "x-github-delivery";
            r.HeaderValue = "gh-1";
        })));

        // Pages of two walk the same list, newest first, each id once.
        var paged = await ListIdsAsync(admin, Clone(Request(), r => r.PageSize = 2));
        Assert.Equal(Ids(5, 4, 3, 2, 1, 0), paged);
        var withBody = (await admin.ListMessagesAsync(Clone(Request(), r => r.IncludeBody = true))).Messages;
        Assert.Equal("body-5", withBody[0].Message.Body.ToStringUtf8());

        var tooBig = await Assert.ThrowsAsync<RpcException>(() => admin.ListMessagesAsync(Clone(Request(), r => r.PageSize = 501)).ResponseAsync);
        Assert.Equal((StatusCode.InvalidArgument, "page_size = 501: must be between 1 and 500 (0 means 50)"), (tooBig.StatusCode, tooBig.Status.Detail));
        var noName = await Assert.ThrowsAsync<RpcException>(() => admin.ListMessagesAsync(Clone(Request(), r => r.HeaderValue = "x")).ResponseAsync);
        Assert.Equal((StatusCode.InvalidArgument, "header_name: required with header_value"), (noName.StatusCode, noName.Status.Detail));
        var badToken = await Assert.ThrowsAsync<RpcException>(() => admin.ListMessagesAsync(Clone(Request(), r => r.PageToken = "zz")).ResponseAsync);
        Assert.Equal((StatusCode.InvalidArgument, "page_token = 'zz': not a token from a previous response"), (badToken.StatusCode, badToken.Status.Detail));
    }

    private static ListMessagesRequest Clone(ListMessagesRequest request, Action<ListMessagesRequest> change)
    {
        var copy = request.Clone();
        change(copy);
        return copy;
    }

    [Fact]
    public async Task ResendDeliversAgainExactlyOnceWithANewSeriesAndIsRefusedWhileQueued()
    {
        var (channel, token) = await replicas.NewChannelAsync("hist-resend");
        var message = TestMessages.NewMessage(channel, "again");
        var rejected = TestMessages.NewMessage(channel, "dead");
        await replicas.A.Internal.PublishAsync(message);
        await replicas.A.Internal.PublishAsync(rejected);

        var queued = await Assert.ThrowsAsync<RpcException>(() => replicas.AdminA.ResendMessageAsync(new ResendMessageRequest { Channel = channel, MessageId = message.MessageId }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, queued.StatusCode);
        Assert.Contains("still waiting or in flight", queued.Status.Detail, StringComparison.Ordinal);

        await using var connector = await TestConnector.ConnectAsync(replicas.B.Channel, channel, token);
        var firstTwo = await connector.TakeAsync(2);
        await connector.AckAsync(message.MessageId);
        await connector.NackAsync(rejected.MessageId, retry: false);
        await Eventually.UntilAsync(async () => await replicas.StatAsync(channel, "acked_total") == 1 && await replicas.StatAsync(channel, "dead_lettered_total") == 1, Patience, "settled");

        var resent = await replicas.AdminB.ResendMessageAsync(new ResendMessageRequest { Channel = channel, MessageId = message.MessageId });
        Assert.Equal((message.MessageId, 1u), (resent.MessageId, resent.Resend));
        var again = await connector.NextAsync();
        var expected = message.Clone();
        expected.Attempt = 1;
        expected.Resend = 1;
        Assert.Equal(expected, again.Message);
        await connector.AckAsync(message.MessageId);
        await Eventually.UntilAsync(async () => await replicas.StatAsync(channel, "acked_total") == 2, Patience, "the resend acked");
        Assert.True(await connector.NothingWithinAsync(TimeSpan.FromSeconds(1)));

        var record = (await replicas.AdminA.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = message.MessageId })).Record;
        Assert.Equal(MessageState.Acked, record.State);
        Assert.Equal([(0u, 1u, AttemptOutcome.Acked), (1u, 1u, AttemptOutcome.Acked)], record.Attempts.Select(a => (a.Series, a.Attempt, a.Outcome)));
        Assert.Equal(1u, record.Message.Resend);

        // A dead letter leaves the dead-letter queue when resent.
        Assert.Equal(1u, (await replicas.AdminA.ResendMessageAsync(new ResendMessageRequest { Channel = channel, MessageId = rejected.MessageId })).Resend);
        var revived = await connector.NextAsync();
        Assert.Equal((rejected.MessageId, 1u, 1u), (revived.Message.MessageId, revived.Message.Resend, revived.Message.Attempt));
        Assert.Equal(0u, (await replicas.AdminA.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel })).Stats.DeadLetters);
        Assert.Equal(2, firstTwo.Count);
    }

    [Fact]
    public async Task ReplayRangeResendsInReceivedOrderUpToItsLimit()
    {
        var (channel, token) = await replicas.NewChannelAsync("hist-replay");
        var t0 = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 300);
        var m = Enumerable.Range(0, 5).Select(i => TestMessages.NewMessage(channel, $"r-{i}", receivedAt: t0.AddSeconds(i))).ToList();
        foreach (var i in new[] { 3, 1, 4, 0, 2 })
        {
            await replicas.A.Internal.PublishAsync(m[i]);
        }

        await using var connector = await TestConnector.ConnectAsync(replicas.B.Channel, channel, token);
        var first = await connector.TakeAsync(5);
        await connector.AckAsync([.. first.Select(d => d.Message.MessageId)]);
        await Eventually.UntilAsync(async () => await replicas.StatAsync(channel, "acked_total") == 5, Patience, "5 acks");

        var replay = await replicas.AdminA.ReplayRangeAsync(new ReplayRangeRequest
        {
            Channel = channel,
            ReceivedAfter = Timestamp.FromDateTimeOffset(t0),
            ReceivedBefore = Timestamp.FromDateTimeOffset(t0.AddSeconds(4)),
            Limit = 3,
        });

        Assert.Equal((3u, 0u, true), (replay.Resent, replay.Skipped, replay.Truncated));
        Assert.Equal(Timestamp.FromDateTimeOffset(t0.AddSeconds(2)), replay.LastReceivedAt);
        var again = await connector.TakeAsync(3);
        Assert.Equal([m[0].MessageId, m[1].MessageId, m[2].MessageId], again.Select(d => d.Message.MessageId));
        Assert.All(again, d => Assert.Equal(1u, d.Message.Resend));
        Assert.True(await connector.NothingWithinAsync(TimeSpan.FromSeconds(1)));

        // Continuing from there: m[3] is resent, m[0..2] are in flight again and skipped.
        var rest = await replicas.AdminB.ReplayRangeAsync(new ReplayRangeRequest
        {
            Channel = channel,
            ReceivedAfter = Timestamp.FromDateTimeOffset(t0),
            ReceivedBefore = Timestamp.FromDateTimeOffset(t0.AddSeconds(4)),
        });
        Assert.Equal((1u, 3u, false), (rest.Resent, rest.Skipped, rest.Truncated));
        Assert.Equal(m[3].MessageId, (await connector.NextAsync()).Message.MessageId);

        var invalid = await Assert.ThrowsAsync<RpcException>(() => replicas.AdminA.ReplayRangeAsync(new ReplayRangeRequest { Channel = channel, ReceivedAfter = Timestamp.FromDateTimeOffset(t0) }).ResponseAsync);
        Assert.Equal((StatusCode.InvalidArgument, "received_before: required"), (invalid.StatusCode, invalid.Status.Detail));
    }

    [Fact]
    public async Task TheTailSeesEveryAcceptedMessageAndEveryOutcomeOf1000MessagesWhileTwoConnectorsAreBusy()
    {
        const int Count = 1000;
        var (channel, token) = await replicas.NewChannelAsync("hist-tail", new Dictionary<string, string> { ["backoff_initial_ms"] = "0" });
        using var tail = replicas.AdminA.TailChannel(new TailChannelRequest { Channel = channel });
        Assert.True(await tail.ResponseStream.MoveNext());
        Assert.Equal(TailEventKind.Started, tail.ResponseStream.Current.Kind);

        var messages = Enumerable.Range(0, Count).Select(i => TestMessages.NewMessage(channel, $"t-{i}")).ToList();
        var bodySizes = messages.ToDictionary(x => x.MessageId, x => (uint)x.Body.Length);
        var nackOnce = messages.Where((_, i) => i % 10 == 0).Select(x => x.MessageId).ToHashSet();
        await using var one = await TestConnector.ConnectAsync(replicas.A.Channel, channel, token, maxInFlight: 50, connectorId: "one");
        await using var two = await TestConnector.ConnectAsync(replicas.B.Channel, channel, token, maxInFlight: 50, connectorId: "two");
        using var stop = new CancellationTokenSource();
        var responders = new[] { RespondAsync(one, nackOnce, stop.Token), RespondAsync(two, nackOnce, stop.Token) };
        var publishing = Task.WhenAll(Enumerable.Range(0, 8).Select(async worker =>
        {
            for (var i = worker; i < Count; i += 8)
            {
                await replicas.A.Internal.PublishAsync(messages[i]);
            }
        }));

        var counts = new Dictionary<TailEventKind, int>();
        var outcomes = new Dictionary<AttemptOutcome, int>();
        var accepted = new HashSet<string>();
        using (var deadline = new CancellationTokenSource(Patience))
        {
            while (counts.GetValueOrDefault(TailEventKind.Accepted) < Count || counts.GetValueOrDefault(TailEventKind.Settled) < Count + nackOnce.Count)
            {
                Assert.True(await tail.ResponseStream.MoveNext(deadline.Token));
                var e = tail.ResponseStream.Current;
                counts[e.Kind] = counts.GetValueOrDefault(e.Kind) + 1;
                if (e.Kind == TailEventKind.Accepted)
                {
                    accepted.Add(e.MessageId);
                    Assert.True(e.Message.Body.IsEmpty);
                    Assert.Equal(bodySizes[e.MessageId], e.BodySize);
                }
                else if (e.Kind == TailEventKind.Settled)
                {
                    outcomes[e.Attempt.Outcome] = outcomes.GetValueOrDefault(e.Attempt.Outcome) + 1;
                    Assert.Contains(e.Attempt.ConnectorId, new[] { "one", "two" });
                }
            }
        }

        await publishing;
        await stop.CancelAsync();
        await Task.WhenAll(responders);
        Assert.Equal(messages.Select(x => x.MessageId).ToHashSet(), accepted);
        Assert.Equal(
            new Dictionary<TailEventKind, int>
            {
                [TailEventKind.Accepted] = Count,
                [TailEventKind.Delivered] = Count + nackOnce.Count,
                [TailEventKind.Settled] = Count + nackOnce.Count,
            },
            counts);
        Assert.Equal(new Dictionary<AttemptOutcome, int> { [AttemptOutcome.Acked] = Count, [AttemptOutcome.NackedRetry] = nackOnce.Count }, outcomes);
        Assert.Equal(Count, await replicas.StatAsync(channel, "acked_total"));
    }

    /// <summary>Acks every delivery with a target report, except the first attempt of the ids in
    /// <paramref name="nackOnce"/>, which it nacks with retry.</summary>
    private static async Task RespondAsync(TestConnector connector, HashSet<string> nackOnce, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Delivery delivery;
            try
            {
                // TakeAsync cancels its read at the deadline (NextAsync's would stay pending and swallow a delivery).
                delivery = (await connector.TakeAsync(1, TimeSpan.FromMilliseconds(200)))[0];
            }
            catch (TimeoutException)
            {
                continue;
            }

            var id = delivery.Message.MessageId;
            if (delivery.Message.Attempt == 1 && nackOnce.Contains(id))
            {
                await connector.NackAsync(id, retry: true, "try again", 503);
            }
            else
            {
                await connector.SendAsync(new ConnectRequest { Ack = AckWithReport(id, 200, 1) });
            }
        }
    }

    [Fact]
    public async Task ATailReaderThatNeverReadsIsCutOffWithResourceExhaustedWhileDeliveryGoesOn()
    {
        const int Count = 1000;
        var (channel, token) = await replicas.NewChannelAsync("hist-slow");
        using var tail = replicas.AdminB.TailChannel(new TailChannelRequest { Channel = channel, IncludeBody = true });
        Assert.True(await tail.ResponseStream.MoveNext());
        Assert.Equal(TailEventKind.Started, tail.ResponseStream.Current.Kind);

        await using var connector = await TestConnector.ConnectAsync(replicas.A.Channel, channel, token, maxInFlight: 100);
        using var stop = new CancellationTokenSource();
        var responder = RespondAsync(connector, [], stop.Token);
        var body = new string('b', 4096);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async worker =>
        {
            for (var i = worker; i < Count; i += 4)
            {
                await replicas.A.Internal.PublishAsync(TestMessages.NewMessage(channel, body));
            }
        }));

        // Delivery goes on while the tail's reader reads nothing.
        await Eventually.UntilAsync(async () => await replicas.StatAsync(channel, "acked_total") == Count, Patience, "every message acked");
        await stop.CancelAsync();
        await responder;

        var read = 0;
        var cutOff = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var deadline = new CancellationTokenSource(Patience);
            while (await tail.ResponseStream.MoveNext(deadline.Token))
            {
                read++;
            }
        });
        Assert.Equal(StatusCode.ResourceExhausted, cutOff.StatusCode);
        Assert.Matches(@"^tail reader too slow: \d+ events were waiting \(QueueManager:TailBufferEvents = 64\); tail again to resume$", cutOff.Status.Detail);
        Assert.InRange(read, 1, (Count * 3) - 1);
    }
}

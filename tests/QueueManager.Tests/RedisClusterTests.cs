using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>SPEC §2: the design runs on Redis Cluster (a channel's keys share one slot through the hash tag).</summary>
public sealed class RedisClusterTests
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task PublishDeliverAckNackAndDeadLettersWorkOnAThreeNodeCluster()
    {
        await using var cluster = await RedisCluster.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(cluster.Endpoints);
        var admin = new QueueAdminService.QueueAdminServiceClient(replica.Channel);
        // Several channels, so their slots land on different masters.
        var channels = new List<(string Name, string Token)>();
        for (var i = 0; i < 3; i++)
        {
            var name = TestChannels.UniqueName("cluster");
            channels.Add((name, await TestChannels.CreateAsync(replica.Channel, name, new Dictionary<string, string> { ["backoff_initial_ms"] = "0" })));
        }

        var owners = new HashSet<int>();
        foreach (var (name, _) in channels)
        {
            owners.Add((await cluster.NodeForKeyAsync($"wc:{{{name}}}:channel")).Port);
        }

        Assert.True(owners.Count >= 2, "the test channels all hashed to one master; pick other names");
        foreach (var (name, token) in channels)
        {
            var published = await replica.Channel.PublishManyAsync(name, 4);
            await using var connector = await TestConnector.ConnectAsync(replica.Channel, name, token);
            var first = await connector.TakeAsync(4);
            Assert.Equal(published.Select(m => m.MessageId), first.Select(d => d.Message.MessageId));

            await connector.AckAsync(first[0].Message.MessageId, first[1].Message.MessageId);
            await connector.NackAsync(first[2].Message.MessageId, retry: true, "HTTP 503");
            await connector.NackAsync(first[3].Message.MessageId, retry: false, "HTTP 400", 400);
            var retried = await connector.NextAsync();
            Assert.Equal(first[2].Message.MessageId, retried.Message.MessageId);
            Assert.Equal(2u, retried.Message.Attempt);
            await connector.AckAsync(retried.Message.MessageId);

            await Eventually.UntilAsync(
                async () => (await admin.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = name })).Stats is { AckedTotal: 3, DeadLetters: 1, MessagesInFlight: 0 },
                Patience,
                $"3 acks and 1 dead letter on {name}");
            var deadLetters = await admin.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = name });
            Assert.Equal(first[3].Message.MessageId, deadLetters.Messages.Single().Message.MessageId);
            var replay = await admin.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Channel = name, All = true });
            Assert.Equal(1u, replay.Replayed);
            var again = await connector.NextAsync();
            Assert.Equal(first[3].Message.MessageId, again.Message.MessageId);
            Assert.Equal(1u, again.Message.Attempt);
        }

        var listed = await admin.ListChannelsAsync(new ListChannelsRequest());
        Assert.Equal(channels.Select(c => c.Name).Order(), listed.Channels.Select(c => c.Name));
    }
}

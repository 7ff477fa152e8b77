using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.QueueManager.Redis;
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
        var admin = new QueueAdminService.QueueAdminServiceClient(replica.Internal.Channel);
        // Each master has its own script cache: the replica loads every script on every one of them.
        string[] hashes = [.. ScriptPreloader.Scripts.Select(s => s.Sha1)];
        foreach (var node in cluster.Nodes)
        {
            await Eventually.UntilAsync(
                async () => await node.ExecuteAsync(["SCRIPT", "EXISTS", .. hashes]) == string.Join('\n', hashes.Select(_ => "1")),
                Patience,
                $"every script loaded on {node.Endpoint}");
        }

        // Three channels whose slots land on at least two different masters.
        var names = new List<string>();
        var owners = new HashSet<int>();
        while (names.Count < 3)
        {
            var name = TestChannels.UniqueName("cluster");
            var owner = (await cluster.NodeForKeyAsync($"wc:{{{name}}}:channel")).Port;
            if (names.Count < 2 || owners.Count >= 2 || !owners.Contains(owner))
            {
                names.Add(name);
                owners.Add(owner);
            }
        }

        Assert.True(owners.Count >= 2);
        var channels = new List<(string Name, string Token)>();
        foreach (var name in names)
        {
            channels.Add((name, await TestChannels.CreateAsync(replica.Internal, name, new Dictionary<string, string> { ["backoff_initial_ms"] = "0" })));
        }

        foreach (var (name, token) in channels)
        {
            // A master that forgot the scripts (restarted, or promoted in a failover) gets them again on the first call.
            await (await cluster.NodeForKeyAsync($"wc:{{{name}}}:channel")).ExecuteAsync("SCRIPT", "FLUSH");
            var published = await replica.Internal.PublishManyAsync(name, 4);
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

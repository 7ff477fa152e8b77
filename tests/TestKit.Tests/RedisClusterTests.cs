namespace WebhookConnect.TestKit.Tests;

public sealed class RedisClusterTests
{
    [Fact]
    public async Task ThreeMastersServeEverySlot()
    {
        await using var cluster = await RedisCluster.StartAsync();

        var info = await cluster.Nodes[0].ExecuteAsync("CLUSTER", "INFO");

        Assert.Equal(3, cluster.Nodes.Count);
        Assert.Contains("cluster_state:ok", info, StringComparison.Ordinal);
        Assert.Contains("cluster_slots_assigned:16384", info, StringComparison.Ordinal);
        Assert.Contains("cluster_known_nodes:3", info, StringComparison.Ordinal);
        Assert.Equal(3, cluster.Endpoints.Split(',').Length);
    }

    [Fact]
    public async Task KeysWithOneHashTagShareANodeAndMultiKeyCommandsWork()
    {
        await using var cluster = await RedisCluster.StartAsync();

        var node = await cluster.NodeForKeyAsync("wc:{orders}:ready");
        await node.ExecuteAsync("RPUSH", "wc:{orders}:ready", "m1");
        var moved = await node.ExecuteAsync("LMOVE", "wc:{orders}:ready", "wc:{orders}:inflight", "LEFT", "RIGHT");

        Assert.Same(node, await cluster.NodeForKeyAsync("wc:{orders}:inflight"));
        Assert.Equal("m1", moved);
        var crossSlot = await Assert.ThrowsAsync<InvalidOperationException>(() => node.ExecuteAsync("MSET", "wc:{orders}:a", "1", "wc:{users}:b", "2"));
        Assert.StartsWith("CROSSSLOT", crossSlot.Message, StringComparison.Ordinal);
    }
}

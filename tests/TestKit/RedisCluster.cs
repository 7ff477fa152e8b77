using System.Net;
using System.Net.Sockets;

namespace WebhookConnect.TestKit;

/// <summary>
/// A local Redis Cluster of three masters (no replicas) on 127.0.0.1, each a private <see cref="RedisServer"/>,
/// with all 16 384 slots assigned: enough to prove that every multi-key operation keeps to one hash slot.
/// </summary>
public sealed class RedisCluster : IAsyncDisposable
{
    private const int NodeCount = 3;
    private const int ClusterBusOffset = 10_000; // Redis listens for cluster bus traffic on port + 10000.
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(60);

    private RedisCluster(IReadOnlyList<RedisServer> nodes) => Nodes = nodes;

    public IReadOnlyList<RedisServer> Nodes { get; }

    /// <summary>The seed endpoints, comma-separated, as a StackExchange.Redis configuration string takes them.</summary>
    public string Endpoints => string.Join(',', Nodes.Select(n => n.Endpoint));

    public static async Task<RedisCluster> StartAsync()
    {
        var redisCli = Prerequisites.RequireExecutable("redis-cli", RedisServer.InstallHint);
        var nodes = new List<RedisServer>();
        try
        {
            for (var i = 0; i < NodeCount; i++)
            {
                nodes.Add(await RedisServer.StartAsync(
                    appendOnly: false,
                    PortWithFreeClusterBus(),
                    ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"]));
            }

            await using (var create = ChildProcess.Start("redis-cli --cluster create", redisCli,
                ["--cluster", "create", .. nodes.Select(n => n.Endpoint), "--cluster-replicas", "0", "--cluster-yes"]))
            {
                var exitCode = await create.WaitForExitAsync(FormTimeout);
                if (exitCode != 0)
                {
                    throw new InvalidOperationException($"redis-cli --cluster create failed with exit code {exitCode}:\n{create.Output}");
                }
            }

            foreach (var node in nodes)
            {
                await Eventually.UntilAsync(
                    async () => (await node.ExecuteAsync("CLUSTER", "INFO"))?.Contains("cluster_state:ok", StringComparison.Ordinal) == true,
                    FormTimeout,
                    $"cluster node {node.Endpoint} to report cluster_state:ok");
            }

            return new RedisCluster(nodes);
        }
        catch
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>The node that serves a key's hash slot (follows a MOVED answer from any node).</summary>
    public async Task<RedisServer> NodeForKeyAsync(string key)
    {
        var slot = int.Parse((await Nodes[0].ExecuteAsync("CLUSTER", "KEYSLOT", key))!, System.Globalization.CultureInfo.InvariantCulture);
        foreach (var node in Nodes)
        {
            try
            {
                await node.ExecuteAsync("EXISTS", key);
                return node;
            }
            catch (InvalidOperationException ex) when (ex.Message.StartsWith("MOVED", StringComparison.Ordinal))
            {
                // Not this node's slot.
            }
        }

        throw new InvalidOperationException($"No node serves slot {slot} of key '{key}'.");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }

    private static int PortWithFreeClusterBus()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var port = FreePort.Next();
            if (port + ClusterBusOffset <= IPEndPoint.MaxPort && IsFree(port + ClusterBusOffset))
            {
                return port;
            }
        }

        throw new InvalidOperationException("Found no port whose cluster bus port (port + 10000) is also free.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

using System.Globalization;
using StackExchange.Redis;
using WebhookConnect.TestKit;

namespace WebhookConnect.Benchmarks.Queue;

/// <summary>
/// What the benchmark runs against: a private redis-server, one queue-manager process (production sweep interval),
/// and a multiplexer of our own for baselines and for reading Redis' view (stats, INFO).
/// Disposing stops both processes, also after a failure or Ctrl-C.
/// </summary>
public sealed class BenchStack : IAsyncDisposable
{
    private BenchStack(RedisServer redis, QueueManagerProcess queueManager, IConnectionMultiplexer multiplexer)
    {
        Redis = redis;
        QueueManager = queueManager;
        Multiplexer = multiplexer;
    }

    public RedisServer Redis { get; }

    public QueueManagerProcess QueueManager { get; }

    public IConnectionMultiplexer Multiplexer { get; }

    public IDatabase Database => Multiplexer.GetDatabase();

    public IServer Server => Multiplexer.GetServer(Redis.Endpoint);

    public static async Task<BenchStack> StartAsync()
    {
        var redis = await RedisServer.StartAsync();
        QueueManagerProcess? queueManager = null;
        try
        {
            queueManager = await QueueManagerProcess.StartAsync(
                redis.Endpoint,
                new Dictionary<string, string>
                {
                    // The test helper sweeps every 100 ms; measure with the production default instead.
                    ["QueueManager:SweepInterval"] = "00:00:01",
                    ["Logging:LogLevel:Default"] = "Warning",
                },
                replicaId: "qm-bench");
            var multiplexer = await ConnectionMultiplexer.ConnectAsync($"{redis.Endpoint},allowAdmin=true,syncTimeout=30000");
            return new BenchStack(redis, queueManager, multiplexer);
        }
        catch
        {
            if (queueManager is not null)
            {
                await queueManager.DisposeAsync();
            }

            await redis.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates a channel through the internal admin API and returns its token. A <paramref name="paused"/>
    /// channel accepts webhooks and delivers nothing: a backlog that waits while a connector stays subscribed.</summary>
    public Task<string> CreateChannelAsync(string name, int maxQueueSize, int maxInFlight, int? historyRetentionMs = null, bool paused = false)
    {
        var settings = new Dictionary<string, string>
        {
            ["max_queue_size"] = maxQueueSize.ToString(CultureInfo.InvariantCulture),
            ["max_in_flight"] = maxInFlight.ToString(CultureInfo.InvariantCulture),
            // Backlogs of up to 5 million messages measure the queue, not the 256 MiB default byte budget.
            ["max_queue_bytes"] = (1L << 40).ToString(CultureInfo.InvariantCulture),
        };
        if (paused)
        {
            settings["paused"] = "1";
        }

        if (historyRetentionMs is { } retention)
        {
            settings["history_retention_ms"] = retention.ToString(CultureInfo.InvariantCulture);
        }

        return TestChannels.CreateAsync(QueueManager.Internal, name, settings);
    }

    public static string Key(string channel, string suffix) => $"wc:{{{channel}}}:{suffix}";

    public async Task<long> StatAsync(string channel, string counter) =>
        (long?)await Database.HashGetAsync(Key(channel, "stats"), counter) ?? 0;

    public Task<long> CountAsync(string channel, string zset) => Database.SortedSetLengthAsync(Key(channel, zset));

    /// <summary>Deletes every key of a channel (after a baseline, so later memory figures do not carry it).</summary>
    public async Task DeleteChannelAsync(string channel)
    {
        var keys = new List<RedisKey>();
        await foreach (var key in Server.KeysAsync(pattern: $"wc:{{{channel}}}:*", pageSize: 1000))
        {
            keys.Add(key);
        }

        if (keys.Count > 0)
        {
            await Database.KeyDeleteAsync([.. keys]);
        }

        await Database.SortedSetRemoveAsync("wc:channels", channel);
    }

    /// <summary>One INFO section as field → value.</summary>
    public async Task<Dictionary<string, string>> InfoAsync(string section)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in await Server.InfoAsync(section))
        {
            foreach (var (key, value) in group)
            {
                result[key] = value;
            }
        }

        return result;
    }

    public async Task<long> UsedMemoryAsync() => long.Parse((await InfoAsync("memory"))["used_memory"], CultureInfo.InvariantCulture);

    /// <summary>Calls of each Lua-related command since the last CONFIG RESETSTAT: EVAL sends the whole script text
    /// every time, EVALSHA only its hash.</summary>
    public async Task<(long Eval, long EvalSha)> ScriptCallsAsync()
    {
        var stats = await InfoAsync("commandstats");
        return (Calls(stats, "cmdstat_eval"), Calls(stats, "cmdstat_evalsha"));

        static long Calls(Dictionary<string, string> stats, string command) =>
            stats.TryGetValue(command, out var value)
                ? long.Parse(value.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture)
                : 0;
    }

    /// <summary>Resident set size and its peak, in bytes, of a process (Linux /proc).</summary>
    public static (long Rss, long Peak) Memory(int pid)
    {
        long rss = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kib(line);
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kib(line);
            }
        }

        return (rss, peak);

        static long Kib(string line) =>
            1024 * long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await Multiplexer.DisposeAsync();
        await QueueManager.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;
using WebhookConnect.TestKit;

namespace WebhookConnect.Benchmarks.Queue;

/// <param name="Rate">Operations (messages) per second.</param>
/// <param name="Detail">How it was measured, for the table.</param>
public readonly record struct Baseline(double Rate, string Detail);

/// <summary>
/// The raw limits the queue-manager's figures are compared with, measured against the same redis-server in the
/// same run: redis-benchmark (XADD, and EVALSHA of the queue-manager's own publish.lua), and the deliver.lua and
/// ack.lua scripts called directly, without the queue-manager or gRPC in between.
/// </summary>
public static class RedisBaselines
{
    public const string InstallHint = "sudo apt-get install -y redis-tools";
    private const int RedisBenchmarkClients = 50;

    /// <summary>redis-benchmark XADD of one <paramref name="valueBytes"/> field, the SPEC's "Redis XADD rate".</summary>
    public static async Task<Baseline> XaddAsync(BenchStack stack, int count, int valueBytes, TimeSpan timeout)
    {
        const string Stream = "bench:xadd";
        var rate = await RedisBenchmarkAsync(stack, count, timeout, [], ["XADD", Stream, "*", "f", new string('x', valueBytes)]);
        await stack.Database.KeyDeleteAsync(Stream);
        return new Baseline(rate, $"redis-benchmark XADD {valueBytes} B field, {RedisBenchmarkClients} clients, no pipelining");
    }

    /// <summary>
    /// redis-benchmark EVALSHA of the queue-manager's real publish.lua (common.lua + publish.lua, as QueueScripts
    /// loads them) with an envelope of <paramref name="envelopeBytes"/>: the Redis cost of one unbatched Publish,
    /// without the queue-manager (which groups concurrent publishes into one call). Fills <paramref name="channel"/> with about <paramref name="count"/> messages (random ids).
    /// </summary>
    public static async Task<Baseline> PublishScriptAsync(BenchStack stack, string channel, int count, int envelopeBytes, int bodyBytes, TimeSpan timeout)
    {
        var sha = Convert.ToHexStringLower((await LoadScriptAsync(stack, "publish")).Hash);
        var received = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var command = new List<string> { "EVALSHA", sha, ScriptKeys(channel).Length.ToString(CultureInfo.InvariantCulture) };
        command.AddRange(ScriptKeys(channel));
        command.AddRange(
        [
            // ARGV as MessageQueue passes them: events channel, channel, default byte budget (1 TiB here: the baseline
            // measures the script, not the budget), then id, envelope, received_at, idempotency key, body bytes, replay
            // key position (0: none), replay window.
            "wc:events", channel, (1L << 40).ToString(CultureInfo.InvariantCulture), "raw-__rand_int__", new string('x', envelopeBytes), received, "", bodyBytes.ToString(CultureInfo.InvariantCulture), "0", "0",
        ]);
        var rate = await RedisBenchmarkAsync(stack, count, timeout, ["-r", "1000000000"], command);
        return new Baseline(rate, $"redis-benchmark EVALSHA publish.lua, {envelopeBytes} B envelope, {RedisBenchmarkClients} clients");
    }

    /// <summary>
    /// Drains <paramref name="channel"/> by calling the real deliver.lua (up to <paramref name="batch"/> per call)
    /// and ack.lua (the ids just delivered) in turn from one client: the Redis work of one stream with
    /// max_in_flight = batch, without the queue-manager, gRPC or protobuf. Returns messages per second.
    /// </summary>
    public static async Task<Baseline> DeliverAckScriptsAsync(BenchStack stack, string channel, int batch, TimeSpan timeout)
    {
        var keys = ScriptKeys(channel).Select(k => (RedisKey)k).ToArray();
        // EVALSHA by hash: the Redis cost of the scripts alone (nothing else in the way, and no SCRIPT LOAD to count).
        var connect = (await LoadScriptAsync(stack, "connect")).Hash;
        var deliver = (await LoadScriptAsync(stack, "deliver")).Hash;
        var ack = (await LoadScriptAsync(stack, "ack")).Hash;
        const string Connection = "conn_baseline";
        var db = stack.Database;
        await db.ScriptEvaluateAsync(connect, keys, [Connection, 3_600_000, "baseline"]);

        var deadline = Stopwatch.StartNew();
        var drained = 0;
        var stopwatch = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            var leased = (RedisResult[])(await db.ScriptEvaluateAsync(deliver, keys, [Connection, batch]))!;
            if ((string)leased[0]! != "ok")
            {
                throw new InvalidOperationException($"deliver.lua answered '{(string)leased[0]!}'");
            }

            // deliver.lua answers status, deadline, then id, attempt, envelope, sequence per message; ack.lua takes the
            // connection, then id, target status, target duration per message, and answers the ids it settled.
            var n = (leased.Length - 2) / 4;
            if (n == 0)
            {
                break;
            }

            var args = new RedisValue[(3 * n) + 1];
            args[0] = Connection;
            for (var i = 0; i < n; i++)
            {
                args[1 + (3 * i)] = (string)leased[2 + (4 * i)]!;
                args[2 + (3 * i)] = 0;
                args[3 + (3 * i)] = RedisValue.EmptyString;
            }

            drained += ((RedisResult[])(await db.ScriptEvaluateAsync(ack, keys, args))!).Length;
        }

        stopwatch.Stop();
        return new Baseline(drained / stopwatch.Elapsed.TotalSeconds, $"deliver.lua ({batch}/call) + ack.lua called directly, one client, {drained:N0} msgs");
    }

    /// <summary>The KEYS every queue script takes, in the order of RedisKeys.ChannelKeys.ScriptKeys / common.lua.</summary>
    private static string[] ScriptKeys(string channel) =>
        [.. new[]
        {
            "channel", "messages", "state", "ready", "seq", "delayed", "leases", "owners", "expiry", "dlq", "dlq-info",
            "idem", "idem-exp", "settled", "stats", "conns", "conn-info", "sweep-lock", "hist", "hist-rec", "hist-env",
            "hist-settled", "tailers",
        }.Select(suffix => BenchStack.Key(channel, suffix))];

    /// <summary>SCRIPT LOAD of common.lua + <paramref name="name"/>.lua exactly as the queue-manager embeds them.</summary>
    private static async Task<LoadedLuaScript> LoadScriptAsync(BenchStack stack, string name)
    {
        var folder = Path.Combine(RepoPaths.Root, "services", "QueueManager", "Queue", "Scripts");
        var text = await File.ReadAllTextAsync(Path.Combine(folder, "common.lua")) + "\n" + await File.ReadAllTextAsync(Path.Combine(folder, name + ".lua"));
        return await LuaScript.Prepare(text).LoadAsync(stack.Server);
    }

    /// <summary>Runs redis-benchmark for one command and returns its requests per second (from --csv).</summary>
    private static async Task<double> RedisBenchmarkAsync(BenchStack stack, int count, TimeSpan timeout, IEnumerable<string> options, IEnumerable<string> command)
    {
        var executable = Prerequisites.RequireExecutable("redis-benchmark", InstallHint);
        string[] arguments =
        [
            "-h", "127.0.0.1", "-p", stack.Redis.Port.ToString(CultureInfo.InvariantCulture),
            "-n", count.ToString(CultureInfo.InvariantCulture), "-c", RedisBenchmarkClients.ToString(CultureInfo.InvariantCulture),
            "-P", "1", "--csv", .. options, .. command,
        ];
        await using var process = ChildProcess.Start("redis-benchmark", executable, arguments);
        var exit = await process.WaitForExitAsync(timeout);
        // --csv prints a header and one row: "test","rps","avg_latency_ms",…; the test column holds the command.
        var row = process.Output.Split('\n')
            .Where(line => line.StartsWith("[redis-benchmark] \"", StringComparison.Ordinal) && !line.Contains("\"test\"", StringComparison.Ordinal))
            .LastOrDefault();
        if (exit != 0 || row is null)
        {
            throw new InvalidOperationException($"redis-benchmark failed (exit {exit}):\n{Shorten(process.Output)}");
        }

        var fields = row.Split(',');
        return double.Parse(fields[^7].Trim('"'), CultureInfo.InvariantCulture);
    }

    private static string Shorten(string text) => text.Length > 2000 ? text[..2000] + "…" : text;
}

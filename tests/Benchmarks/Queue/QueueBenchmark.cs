using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;

namespace WebhookConnect.Benchmarks.Queue;

/// <summary>The three measurements (publish, delivery, memory), each next to its baseline from the same run.</summary>
public static class QueueBenchmark
{
    private const string Channel = "bench";
    private const string RawChannel = "bench-raw";
    private const int BodyBytes = 1024;
    private const int ChannelMaxInFlight = 1000;
    private const int ChannelMaxQueueSize = 2_000_000;
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(30);

    public static async Task<Report> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var n = options.Messages;
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"queue benchmark: {n:N0} messages of {BodyBytes} B, {options.Concurrency} Publish calls in flight, connector max_in_flight {options.MaxInFlight}, {Environment.ProcessorCount} cores"));
        await using var stack = await BenchStack.StartAsync();
        var pid = stack.QueueManager.Process.Id;
        Console.WriteLine($"redis-server {stack.Redis.Endpoint}; queue-manager pid {pid}, gRPC 127.0.0.1:{stack.QueueManager.GrpcPort}");
        var report = new Report();
        var idle = BenchStack.Memory(pid);

        var token = await stack.CreateChannelAsync(Channel, ChannelMaxQueueSize, ChannelMaxInFlight, options.HistoryRetentionMs);
        await stack.CreateChannelAsync(RawChannel, ChannelMaxQueueSize, ChannelMaxInFlight, options.HistoryRetentionMs);
        var envelopeBytes = PublishLoad.NewMessage(Channel, "a-00000000", ByteString.CopyFrom(PublishLoad.Body(BodyBytes))).CalculateSize();

        // a. Publish rate.
        Console.WriteLine("a. baselines: redis-benchmark XADD, EVALSHA publish.lua …");
        var xadd = await RedisBaselines.XaddAsync(stack, n, BodyBytes, options.PhaseTimeout);
        var publishScript = await RedisBaselines.PublishScriptAsync(stack, RawChannel, n, envelopeBytes, BodyBytes, options.PhaseTimeout);
        var rawQueued = await stack.CountAsync(RawChannel, "ready");
        report.Check(rawQueued >= n * 0.99, $"the publish.lua baseline queued {rawQueued} of {n} (errors from redis-benchmark?)");

        Console.WriteLine($"a. publishing {n:N0} messages through the queue-manager …");
        await stack.Server.ConfigResetStatisticsAsync();
        var published = await WithinAsync(
            options.PhaseTimeout,
            "publish",
            cancellationToken,
            t => PublishLoad.RunAsync(stack.QueueManager.Internal.Channel, Channel, "a", n, BodyBytes, options.Concurrency, Progress("published", n, pid), t));
        var (evals, evalShas) = await stack.ScriptCallsAsync();
        var waiting = await stack.CountAsync(Channel, "ready");
        report.Check(waiting == n, $"after publishing, {waiting} messages wait, expected {n}");
        report.Rate($"a. Publish, {n:N0} × {BodyBytes} B, {options.Concurrency} in flight", published.Rate, xadd);
        report.Rate("", published.Rate, publishScript);
        report.Row("   Publish latency p50 / p99", $"{Report.Ms(published.P50)} / {Report.Ms(published.P99)}");
        report.Note(string.Create(
            CultureInfo.InvariantCulture,
            $"Lua calls Redis received from the queue-manager while publishing: EVAL {evals:N0} (whole script text each time), EVALSHA {evalShas:N0}; envelope {envelopeBytes} B"));

        // b. Delivery rate.
        Console.WriteLine("b. baseline: deliver.lua + ack.lua called directly …");
        var deliverScripts = await RedisBaselines.DeliverAckScriptsAsync(stack, RawChannel, options.MaxInFlight, options.PhaseTimeout);
        await stack.DeleteChannelAsync(RawChannel);
        Console.WriteLine($"b. draining the {n:N0}-message backlog over one Connect stream …");
        var deliveredBefore = await stack.StatAsync(Channel, "delivered_total");
        var ackedBefore = await stack.StatAsync(Channel, "acked_total");
        var drain = await WithinAsync(
            options.PhaseTimeout,
            "delivery",
            cancellationToken,
            t => DrainConnector.RunAsync(stack.QueueManager.Channel, Channel, token, (uint)options.MaxInFlight, n, t));
        var settled = await SettledAsync(stack, ackedBefore + n, cancellationToken);
        var deliveredTotal = await stack.StatAsync(Channel, "delivered_total") - deliveredBefore;
        var ackedTotal = await stack.StatAsync(Channel, "acked_total") - ackedBefore;
        report.Check(drain.Unique == n && drain.Duplicates == 0 && drain.Redelivered == 0, $"connector saw {drain.Unique} distinct of {n}, {drain.Duplicates} duplicates, {drain.Redelivered} redeliveries");
        report.Check(deliveredTotal == n && ackedTotal == n, $"Redis counted {deliveredTotal} delivered and {ackedTotal} acked, expected {n} each");
        report.Check(settled, $"Redis did not show all {n} acked (and nothing leased or waiting) within {SettleTimeout.TotalSeconds:0} s of the stream's end");
        var drainTime = Stopwatch.GetElapsedTime(drain.FirstDeliveryTimestamp, drain.LastAckTimestamp);
        report.Rate($"b. Connect drain of {n:N0}, max_in_flight {drain.GrantedMaxInFlight} (channel {ChannelMaxInFlight})", n / drainTime.TotalSeconds, deliverScripts);
        report.Row(
            "   delivered exactly once",
            $"{drain.Unique:N0} / {n:N0}, {drain.Duplicates} dup",
            "mean ack batch",
            (drain.Unique / (double)Math.Max(1, drain.AckFrames)).ToString("N1", CultureInfo.InvariantCulture));
        report.Note("b. is timed from the first delivery to the last ack frame sent; then the stream is closed cleanly and Redis must show every message acked, nothing waiting or leased.");

        // c. Memory with a large backlog.
        if (!options.SkipMemory)
        {
            report.Row("   queue-manager RSS idle after start (before a.)", Report.MiB(idle.Rss));
            await BacklogMemory.MeasureAsync(stack, options, report, cancellationToken);
        }

        report.Note("SPEC §13 goals here: memory of every service flat (± 50 MiB) while 1 000 000 messages wait, Redis memory per waiting 1 KiB message printed (c.); "
            + "the connector's drain goal (≥ 25 000 msg/s) is measured by tests/Benchmarks/Connector.");
        return report;
    }

    /// <summary>Waits until Redis shows <paramref name="ackedTotal"/> acked and nothing waiting or leased on the
    /// channel; false after <see cref="SettleTimeout"/>.</summary>
    private static async Task<bool> SettledAsync(BenchStack stack, long ackedTotal, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < SettleTimeout)
        {
            if (await stack.StatAsync(Channel, "acked_total") >= ackedTotal
                && await stack.CountAsync(Channel, "leases") == 0
                && await stack.CountAsync(Channel, "ready") == 0)
            {
                return true;
            }

            await Task.Delay(5, cancellationToken);
        }

        return false;
    }

    private static Action<int, TimeSpan> Progress(string what, int total, int pid) => (done, elapsed) =>
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"   {what} {done,10:N0} / {total:N0}  {done / elapsed.TotalSeconds,8:N0} msg/s  queue-manager RSS {Report.MiB(BenchStack.Memory(pid).Rss)}"));

    /// <summary>Runs one phase with its own time limit, so a stuck phase ends the run with its name.</summary>
    private static async Task<T> WithinAsync<T>(TimeSpan limit, string phase, CancellationToken cancellationToken, Func<CancellationToken, Task<T>> run)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        try
        {
            return await run(timeout.Token);
        }
        catch (Exception) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the {phase} phase did not finish within {limit.TotalSeconds:0} s (--timeout)");
        }
    }
}

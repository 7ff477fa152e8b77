using System.Globalization;
using System.Text;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Benchmarks.Queue;

/// <summary>
/// c. (SPEC §13) "memory of every service flat (± 50 MiB) while 1 000 000 messages wait; Redis memory per waiting 1 KiB
/// message printed". Every service is really under the backlog: the webhooks are POSTed through the ingress binary
/// (h2load, h2c, as the end-to-end benchmark does), a connector process is subscribed to the channel, which is paused
/// so the backlog waits while the connector holds its stream open, and the admin binary is asked for the channel's
/// stats during the backlog and with all of it waiting. Each service's RSS is taken settled before the backlog (after
/// a warm-up through ingress, so JIT and pools are not counted as backlog), at its peak while the backlog is POSTed
/// (sampled every 250 ms) and settled with the whole backlog waiting.
/// </summary>
internal static class BacklogMemory
{
    private const string Channel = "bench-mem";
    private const int BodyBytes = 1024;
    private const long Flat = 50L * 1024 * 1024;
    private const int Connections = 16;
    private const int Streams = 16;

    public static async Task MeasureAsync(BenchStack stack, BenchOptions options, Report report, CancellationToken cancellationToken)
    {
        var m = options.BacklogMemory;
        // Part of the backlog (it waits too): the figures before the backlog are those of warm services.
        var warmUp = Math.Min(10_000, m / 10);
        var h2load = Prerequisites.RequireExecutable("h2load", "sudo apt-get install -y nghttp2-client");
        var token = await stack.CreateChannelAsync(Channel, Math.Max(2_000_000, m + 1000), 1000, options.HistoryRetentionMs, paused: true);
        var directory = Directory.CreateTempSubdirectory("wc-queue-bench-memory-").FullName;
        try
        {
            var bodyFile = Path.Combine(directory, "body.json");
            await File.WriteAllTextAsync(bodyFile, OneKiBJson(), cancellationToken);
            Console.WriteLine("c. starting ingress, a connector subscribed to the paused channel, and admin …");
            var quiet = new Dictionary<string, string> { ["Logging:LogLevel:Default"] = "Warning" };
            await using var ingress = await IngressProcess.StartAsync(stack.QueueManager.InternalPort, Path.Combine(directory, "spool"), new Dictionary<string, string>(quiet)
            {
                ["Ingress:PublishTimeout"] = "00:00:30",
            });
            await using var connector = await ConnectorProcess.StartReadyAsync(stack.QueueManager.GrpcPort, $"""
                subscriptions:
                  - channel: {Channel}
                    token_file: {"{dir}"}/token
                    default_target:
                      url: http://127.0.0.1:{FreePort.Next()}/never-called
                logging:
                  log_level:
                    Default: Warning
                """, files: new Dictionary<string, string> { ["token"] = token });
            await using var admin = await AdminProcess.StartAsync(stack.QueueManager.InternalAddress, quiet);
            var adminClient = new AdminService.AdminServiceClient(admin.Channel);
            (string Name, int Pid)[] services =
            [
                ("queue-manager", stack.QueueManager.Process.Id),
                ("ingress", ingress.Process.Id),
                ("connector", connector.Process.Id),
                ("admin", admin.Process.Id),
            ];
            var url = $"http://127.0.0.1:{ingress.Port}/webhook/{Channel}";

            // Warm-up, part of the backlog: ingress's and queue-manager's request paths, admin's stats path.
            var warm = await H2LoadAsync(h2load, url, bodyFile, warmUp, options.PhaseTimeout);
            report.Check(warm.Ok == warmUp, $"warm-up: {warm.Ok} of {warmUp} POSTs answered 200");
            await StatsAsync(adminClient, cancellationToken);
            var before = await SettledAsync(services);
            var redisBefore = await stack.UsedMemoryAsync();
            Console.WriteLine($"c. POSTing {m - warmUp:N0} webhooks of {BodyBytes} B through ingress (h2load h2c {Connections} × {Streams}); RSS before: "
                + string.Join(", ", services.Select((s, i) => $"{s.Name} {Report.MiB(before[i])}")));

            var peaks = before.ToArray();
            using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var sampler = SampleAsync(services, peaks, adminClient, sampling.Token);
            var started = DateTimeOffset.UtcNow;
            H2LoadOutput posted;
            try
            {
                posted = await H2LoadAsync(h2load, url, bodyFile, m - warmUp, options.PhaseTimeout);
            }
            finally
            {
                await sampling.CancelAsync();
                await Task.WhenAny(sampler);
            }

            var elapsed = DateTimeOffset.UtcNow - started;
            report.Check(posted.Ok == m - warmUp, $"{posted.Ok} of {m - warmUp} POSTs answered 200 ({posted.Errors} 4xx/5xx)");
            var waiting = await StatsAsync(adminClient, cancellationToken);
            report.Check(waiting.MessagesQueued == m, $"admin says {waiting.MessagesQueued} messages wait in the memory channel, expected {m}");
            report.Check(waiting.Connections >= 1 && await connector.ReadyStatusAsync() == System.Net.HttpStatusCode.OK,
                $"the connector was not subscribed with the backlog waiting ({waiting.Connections} connections; /readyz {await connector.ReadyStatusAsync()})");
            var settled = await SettledAsync(services);
            var redisAfter = await stack.UsedMemoryAsync();
            var envelope = await EnvelopeBytesAsync(stack);

            report.Rate($"c. POST through ingress, {m - warmUp:N0} × {BodyBytes} B (h2load's rate)", posted.RequestsPerSecond);
            report.Row("   the same, wall clock with h2load's start", $"{(m - warmUp) / elapsed.TotalSeconds:N0} /s");
            for (var i = 0; i < services.Length; i++)
            {
                var (name, _) = services[i];
                var delta = settled[i] - before[i];
                var flat = Math.Abs(delta) <= Flat;
                report.Row(
                    $"c. {name} RSS: before / peak while POSTing / {waiting.MessagesQueued:N0} waiting",
                    $"{Report.MiB(before[i])} / {Report.MiB(peaks[i])} / {Report.MiB(settled[i])}",
                    "change while waiting; SPEC: flat (± 50 MiB)",
                    Report.SignedMiB(delta),
                    flat ? "flat" : "NOT flat");
                report.Verdict(
                    $"memory.{name}",
                    flat,
                    string.Create(CultureInfo.InvariantCulture, $"before_bytes={before[i]} peak_bytes={peaks[i]} waiting_bytes={settled[i]} change_bytes={delta} waiting_messages={waiting.MessagesQueued}"));
                report.Check(flat, $"{name} RSS moved {Report.SignedMiB(delta)} with {waiting.MessagesQueued:N0} messages waiting (SPEC §13: flat within ± 50 MiB): a finding, see its c. row");
            }

            var perMessage = (redisAfter - redisBefore) / (double)(m - warmUp);
            report.Row(
                "c. Redis used_memory: before / waiting",
                $"{Report.MiB(redisBefore)} / {Report.MiB(redisAfter)}",
                "per waiting message; per envelope byte",
                $"{perMessage:N0} B",
                (perMessage / envelope).ToString("0.00", CultureInfo.InvariantCulture));
            report.Verdict("memory.redis", true, string.Create(CultureInfo.InvariantCulture, $"bytes_per_waiting_message={perMessage:0} envelope_bytes={envelope:0} bytes_per_envelope_byte={perMessage / envelope:0.00}"));
            report.Note(string.Create(
                CultureInfo.InvariantCulture,
                $"c. the stored envelope (Message protobuf as ingress publishes it, {BodyBytes} B body) averages {envelope:0} B (HSTRLEN of 100 waiting messages); history {(options.HistoryRetentionMs == 0 ? "off" : "on (its list entry and record per message are in the figure)")}."));
            report.Note($"c. RSS before: settled (ProcessMemory.SettledResidentBytesAsync) after a warm-up of {warmUp:N0} webhooks through ingress (part of the backlog) and one admin stats call; peak: sampled every 250 ms while the rest was POSTed; waiting: settled with all {m:N0} waiting, the connector subscribed to the paused channel, admin asked for its stats.");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Every 250 ms: each service's RSS into its peak; every 10 s, a progress line with the channel's stats as
    /// admin reports them (admin serves during the backlog, not only before and after).</summary>
    private static async Task SampleAsync((string Name, int Pid)[] services, long[] peaks, AdminService.AdminServiceClient admin, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        var tick = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                for (var i = 0; i < services.Length; i++)
                {
                    peaks[i] = Math.Max(peaks[i], ProcessMemory.ResidentBytes(services[i].Pid));
                }

                if (++tick % 40 == 0)
                {
                    var stats = await StatsAsync(admin, stop);
                    Console.WriteLine($"   waiting (admin) {stats.MessagesQueued,10:N0}; RSS " + string.Join(", ", services.Select(s => $"{s.Name} {Report.MiB(ProcessMemory.ResidentBytes(s.Pid))}")));
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The backlog is posted.
        }
    }

    private static async Task<ChannelStats> StatsAsync(AdminService.AdminServiceClient admin, CancellationToken cancellationToken) =>
        (await admin.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = Channel }, AdminProcess.Bearer, cancellationToken: cancellationToken)).Stats;

    private static Task<long[]> SettledAsync((string Name, int Pid)[] services) =>
        Task.WhenAll(services.Select(s => ProcessMemory.SettledResidentBytesAsync(s.Pid)));

    /// <summary>The mean stored size of 100 waiting messages' envelopes (the Message protobuf in the messages hash).</summary>
    private static async Task<double> EnvelopeBytesAsync(BenchStack stack)
    {
        var ids = await stack.Database.SortedSetRangeByRankAsync(BenchStack.Key(Channel, "ready"), 0, 99);
        long total = 0;
        foreach (var id in ids)
        {
            total += await stack.Database.HashStringLengthAsync(BenchStack.Key(Channel, "messages"), id.ToString());
        }

        return total / (double)Math.Max(1, ids.Length);
    }

    private static async Task<H2LoadOutput> H2LoadAsync(string h2load, string url, string bodyFile, int count, TimeSpan timeout)
    {
        await using var run = ChildProcess.Start("h2load", h2load,
        [
            "-n", count.ToString(CultureInfo.InvariantCulture), "-c", Connections.ToString(CultureInfo.InvariantCulture), "-m", Streams.ToString(CultureInfo.InvariantCulture),
            "-d", bodyFile, "-H", "content-type: application/json", url,
        ]);
        await run.WaitForExitAsync(timeout);
        return H2LoadOutput.Parse(run.Output);
    }

    // 1 024 bytes of JSON, as the ingress benchmark sends.
    private static string OneKiBJson()
    {
        var json = new StringBuilder("{\"type\":\"order.created\",\"data\":{\"id\":\"ord_1234567890\",\"padding\":\"");
        const string closing = "\"}}";
        json.Append('x', BodyBytes - json.Length - closing.Length).Append(closing);
        return json.ToString();
    }
}

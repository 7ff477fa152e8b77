// End-to-end benchmark (not a test; issue 7, SPEC §13). Usage:
//   dotnet run -c Release --project tests/Benchmarks/EndToEnd -- [--messages 50000] [--clients 16] [--streams 16]
//       [--rate 1000] [--rate-high 5000] [--seconds 10] [--body-bytes 1024] [--history-rounds 0] [--phase-file PATH]
// Starts a private redis-server, the queue-manager, ingress and connector binaries (Release) and a Kestrel target in
// this process, all on 127.0.0.1, and measures:
//   1. an empty Kestrel endpoint in this process, driven by h2load (h2c, --clients × --streams): the baseline;
//   2. throughput: --messages webhooks POSTed by the same h2load command, timed from its start until the last one is
//      acked; every webhook must reach the target once (counted by X-Webhook-Message-Id) and acked_total must match;
//      Issue 19: the CPU each process spent on it (µs per webhook, /proc/<pid>/stat) and the Redis commands per
//      webhook (INFO commandstats deltas).
//   3. latency: an open-loop sender in this process at --rate webhooks/s for --seconds, then at --rate-high (0: not
//      run); each webhook carries its scheduled send time and the target takes (arrival − scheduled), so a stalled
//      sender cannot hide delays.
//   At the end, SPEC §13's goals beside what this run measured and its same-run baseline.
// --phase-file PATH: the benchmark appends "throughput start" and "throughput end" lines around phase 2, so that
// scripts/profile.sh records a profile of that phase only; it also prints every process id as soon as all run.
//   4. with --history-rounds N > 0 (issue 17): the throughput of 2. again, N rounds of three runs each: the channel's
//      history off (history_retention 0), on (24 h), and on with a live tail attached (TailChannel on queue-manager,
//      counting every event), so the cost of history and of a tail is measured beside its own baseline, in one run.
// A warm-up of 5 000 webhooks runs first, not counted. Exits 1 unless every webhook arrived exactly once, every POST
// was answered 200 and every message was acked.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using WebhookConnect.Benchmarks;
using WebhookConnect.Benchmarks.Queue;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

if (args.Contains("--help"))
{
    Console.WriteLine("usage: dotnet run -c Release --project tests/Benchmarks/EndToEnd -- [--messages 50000] [--clients 16] [--streams 16] [--rate 1000] [--rate-high 5000] [--seconds 10] [--body-bytes 1024] [--history-rounds 0] [--phase-file PATH]");
    return 0;
}

var messages = Arg("--messages", 50_000);
var clients = Arg("--clients", 16);
var streams = Arg("--streams", 16);
var concurrency = 64;
var rate = Arg("--rate", 1000);
var rateHigh = Arg("--rate-high", 5000);
var phaseFileAt = Array.IndexOf(args, "--phase-file");
var phaseFile = phaseFileAt >= 0 && phaseFileAt + 1 < args.Length ? Path.GetFullPath(args[phaseFileAt + 1]) : null;
var seconds = Arg("--seconds", 10);
var bodyBytes = Arg("--body-bytes", 1024);
var historyRounds = Arg("--history-rounds", 0);
const string channel = "bench";
var h2load = Prerequisites.RequireExecutable("h2load", "sudo apt-get install -y nghttp2-client");

using var cancel = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    cancel.Cancel();
});

// The target: /hook records each webhook's sequence number and latency into the current phase; /empty only reads the body.
Phase? phase = null;
Arrivals? arrivals = null;
var targetPort = FreePort.Next();
var emptyPort = FreePort.Next();
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Listen(IPAddress.Loopback, targetPort);
    // The baseline's port: h2c with prior knowledge, as h2load speaks to ingress.
    k.Listen(IPAddress.Loopback, emptyPort, l => l.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2);
});
var target = builder.Build();
target.Run(async context =>
{
    await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
    if (context.Request.Path == "/hook" && Volatile.Read(ref phase) is { } current)
    {
        current.Arrived(context.Request.Headers["X-Bench-Seq"].ToString(), context.Request.Headers["X-Bench-Sent"].ToString());
    }
    else if (context.Request.Path == "/hook" && Volatile.Read(ref arrivals) is { } counted)
    {
        counted.Arrived(context.Request.Headers["X-Webhook-Message-Id"].ToString());
    }

    context.Response.StatusCode = 200;
});
await target.StartAsync(cancel.Token);

var body = Encoding.UTF8.GetBytes("{\"type\":\"order.created\",\"data\":{\"padding\":\"" + new string('x', Math.Max(0, bodyBytes - 45)) + "\"}}");
var rows = new List<(string What, string Value)>();
var failures = new List<string>();
await using var stack = await BenchStack.StartAsync();
var spool = Directory.CreateTempSubdirectory("wc-e2e-bench-").FullName;
var bodyFile = Path.Combine(spool, "body.json");
ConnectorProcess? connector = null;
IngressProcess? ingress = null;
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
{
    Timeout = TimeSpan.FromSeconds(60),
};
long acked = 0;
CostMeter? meter = null;
string[] ours = ["queue-manager", "ingress", "connector"];
var goals = new List<(string Goal, string Measured, bool Met)>();
try
{
    var token = await stack.CreateChannelAsync(channel, 10_000_000, 1000);
    ingress = await IngressProcess.StartAsync(stack.QueueManager.InternalPort, Path.Combine(spool, "spool"), new Dictionary<string, string>
    {
        ["Logging:LogLevel:Default"] = "Warning",
        ["Ingress:PublishTimeout"] = "00:00:30",
    });
    connector = await ConnectorProcess.StartReadyAsync(stack.QueueManager.GrpcPort, $"""
        subscriptions:
          - channel: {channel}
            token_file: {"{dir}"}/token
            max_in_flight: 1000
            default_target:
              url: http://127.0.0.1:{targetPort}/hook
        logging:
          log_level:
            Default: Warning
        """, files: new Dictionary<string, string> { ["token"] = token });
    var processes = new List<(string Name, int Pid)>
    {
        ("queue-manager", stack.QueueManager.Process.Id),
        ("ingress", ingress.Process.Id),
        ("connector", connector.Process.Id),
        ("redis-server", stack.Redis.ProcessId ?? throw new InvalidOperationException("redis-server is not running")),
    };
    Console.WriteLine("processes: " + string.Join(", ", processes.Select(p => $"{p.Name} {p.Pid}")) + $", benchmark (load + target) {Environment.ProcessId}");
    meter = new CostMeter(stack.Server, processes)
        .WithAllocations("queue-manager", Metrics(stack.QueueManager.ManagementPort))
        .WithAllocations("ingress", Metrics(ingress.ManagementPort))
        .WithAllocations("connector", Metrics(connector.ManagementPort));
    var webhook = new Uri($"http://127.0.0.1:{ingress.Port}/webhook/{channel}");
    var empty = new Uri($"http://127.0.0.1:{emptyPort}/empty");

    await File.WriteAllBytesAsync(bodyFile, body);

    // Warm-up: JIT tiering, connection pools, Redis scripts loaded. Not counted.
    const int warmUp = 5000;
    var warming = new Arrivals();
    Volatile.Write(ref arrivals, warming);
    await LoadAsync(webhook, warmUp);
    await WaitArrivedAsync(() => warming.Unique, warmUp, acked += warmUp, "warm-up");
    await LoadAsync(empty, warmUp);

    // 1. The empty endpoint, same h2load command, and what one request costs the server (this process) and h2load:
    //    the floor under each HTTP hop of a webhook.
    await meter.StartAsync();
    var baseline = await LoadAsync(empty, messages);
    var baselineCost = await meter.StopAsync(messages);
    rows.Add(("1. empty Kestrel endpoint (h2load, same run)", $"{baseline.RequestsPerSecond,8:N0} req/s  ({baseline.Ok} 200, {messages - baseline.Ok} errors)"));
    rows.Add(("   CPU µs per request: server / h2load", string.Join(" / ", baselineCost.Cpu.Where(c => !ours.Contains(c.Name) && c.Name != "redis-server").Select(c => $"{c.MicrosPerWebhook:0.0}"))));

    // 2. Throughput: POST → ingress → queue-manager → Redis → connector → target → ack, and what it cost.
    await MarkPhaseAsync("throughput start");
    await meter.StartAsync();
    var throughput = await ThroughputAsync(webhook, "throughput");
    var cost = await meter.StopAsync(messages);
    await MarkPhaseAsync("throughput end");
    var ratio = throughput.Rate / baseline.RequestsPerSecond;
    rows.Add(("2. webhooks/s, first POST → last ack", $"{throughput.Rate,8:N0} /s    ({messages} webhooks in {throughput.Seconds:0.00} s; {ratio:P0} of the empty endpoint)"));
    rows.Add(("   POSTs answered (h2load's rate)", $"{throughput.Posted.RequestsPerSecond,8:N0} /s    ({throughput.Posted.Ok} 200, {messages - throughput.Posted.Ok} errors, mean {throughput.Posted.MeanLatency})"));
    rows.Add(("   arrivals at the target / duplicates", $"{throughput.Arrived} / {throughput.Duplicates}"));
    rows.Add(("   CPU µs per webhook, each process", cost.DescribeCpu()));
    rows.Add(("   CPU µs per webhook, our three services", $"{cost.MicrosOf(ours),8:0.0} µs"));
    rows.Add(("   managed bytes allocated per webhook", cost.DescribeAllocations()));
    rows.Add(("   Redis commands per webhook", cost.DescribeCommands()));
    goals.Add(($"end to end ≥ 10 000 webhooks/s and ≥ 30 % of the empty endpoint ({baseline.RequestsPerSecond:N0} req/s, same run)",
        $"{throughput.Rate:N0} /s, {ratio:P0}", throughput.Rate >= 10_000 && ratio >= 0.30));

    // 3. Latency at a steady rate, open loop: --rate (goal p99 < 10 ms at 1 000/s), then --rate-high (< 50 ms at 5 000/s).
    foreach (var (perSecond, goalMs) in new[] { (rate, rate <= 1000 ? 10.0 : 50.0), (rateHigh, 50.0) }.Where(r => r.Item1 > 0))
    {
        var steady = await OpenLoopAsync(webhook, perSecond, seconds, cancel.Token);
        await WaitArrivedAsync(() => steady.Phase.Unique, steady.Count, acked += steady.Count, $"steady rate {perSecond}/s");
        rows.Add(($"3. latency at {perSecond}/s for {seconds} s, POST → target", steady.Phase.Describe()));
        rows.Add(("   of which POST → 200 (ingress, queued)", steady.Phase.DescribeAnswered()));
        rows.Add(("   sent / answered 200 / arrived", $"{steady.Count} / {steady.Count - steady.NotOk} / {steady.Phase.Unique}"));
        Check(steady, $"steady rate {perSecond}/s");
        Volatile.Write(ref phase, null);
        var p99 = steady.Phase.QuantileMilliseconds(0.99);
        goals.Add(($"latency p99 < {goalMs:0} ms at {perSecond:N0}/s (open loop)", $"p99 {p99:0.0} ms", p99 < goalMs));
    }

    goals.Add(("CPU per delivered webhook, our three services (SPEC §13: printed; about 400 µs when it was written)", $"{cost.MicrosOf(ours):0.0} µs; every process {cost.TotalMicros:0.0} µs", true));

    // 4. The cost of history and of a live tail: the same throughput run with history off, on, and on with a tail.
    if (historyRounds > 0)
    {
        var admin = new QueueAdminService.QueueAdminServiceClient(stack.QueueManager.Internal.Channel);
        var modes = new[] { "history off", "history on", "history on + tail" };
        var rates = modes.ToDictionary(m => m, _ => new List<double>());
        for (var round = 1; round <= historyRounds; round++)
        {
            foreach (var mode in modes)
            {
                var retention = mode == "history off" ? TimeSpan.Zero : TimeSpan.FromHours(24);
                await admin.UpdateChannelAsync(new UpdateChannelRequest
                {
                    Channel = channel,
                    Settings = new ChannelSettings { HistoryRetention = Duration.FromTimeSpan(retention) },
                });
                using var stopTail = new CancellationTokenSource();
                var tail = mode.EndsWith("tail", StringComparison.Ordinal) ? await TailAsync(admin, stopTail.Token) : null;
                var run = await ThroughputAsync(webhook, $"{mode}, round {round}");
                rates[mode].Add(run.Rate);
                var line = $"{run.Rate,8:N0} /s";
                if (tail is not null)
                {
                    // Every webhook's ACCEPTED, DELIVERED and SETTLED reach the tail before the last ack is counted,
                    // give or take the events still in flight: wait for them, then stop it.
                    await Eventually.UntilAsync(() => Task.FromResult(tail.Events >= 3L * messages), TimeSpan.FromMinutes(1), $"{mode}: 3 tail events per webhook");
                    await stopTail.CancelAsync();
                    await tail.Done;
                    line += $"    (the tail read {tail.Events} events for {messages} webhooks)";
                }

                rows.Add(($"4. {mode}, round {round}", line));
            }
        }

        var off = rates["history off"].Average();
        foreach (var mode in modes.Skip(1))
        {
            var mean = rates[mode].Average();
            rows.Add(($"   {mode}: mean against history off", $"{mean,8:N0} /s    ({(mean - off) / off:+0.0 %;-0.0 %} against {off:N0} /s)"));
        }
    }

    var total = await stack.StatAsync(channel, "acked_total");
    rows.Add(("acked_total (Redis) / expected", $"{total} / {acked}"));
    if (total != acked)
    {
        failures.Add($"acked_total is {total}, expected {acked}");
    }
}
finally
{
    if (connector is not null)
    {
        await connector.DisposeAsync();
    }

    if (ingress is not null)
    {
        await ingress.DisposeAsync();
    }

    await target.StopAsync();
    Directory.Delete(spool, recursive: true);
}

Console.WriteLine();
Console.WriteLine("SPEC §13 goals, this run (ingest alone: tests/Benchmarks/Ingress; connector drain: tests/Benchmarks/Connector; memory: tests/Benchmarks/Queue)");
foreach (var (goal, measured, met) in goals)
{
    Console.WriteLine($"  {(met ? "met    " : "NOT met")}  {goal}: {measured}");
}

Console.WriteLine();
Console.WriteLine($"End-to-end benchmark ({Environment.ProcessorCount} cores, everything on this machine; {bodyBytes} B JSON bodies; h2load h2c {clients} connections × {streams} streams; the steady-rate sender HTTP/1.1)");
foreach (var (what, value) in rows)
{
    Console.WriteLine($"  {what,-48} {value}");
}

foreach (var failure in failures)
{
    Console.WriteLine("FAILED: " + failure);
}

return failures.Count == 0 ? 0 : 1;

void Check(Load load, string what)
{
    var (recorded, expected) = (load.Phase, load.Count);
    if (load.NotOk != 0)
    {
        failures.Add($"{what}: {load.NotOk} POSTs were not answered 200");
    }

    if (recorded.Unique != expected || recorded.Duplicates != 0 || recorded.Unparsed != 0)
    {
        failures.Add($"{what}: {recorded.Unique} of {expected} webhooks arrived, {recorded.Duplicates} twice, {recorded.Unparsed} unreadable");
    }
}

// --messages webhooks through h2load, timed from its start until the last one is acked; every one must arrive once.
async Task<Throughput> ThroughputAsync(Uri webhook, string what)
{
    var counted = new Arrivals();
    Volatile.Write(ref arrivals, counted);
    var started = Stopwatch.GetTimestamp();
    var posted = await LoadAsync(webhook, messages);
    if (posted.Ok != messages)
    {
        throw new InvalidOperationException($"{what}: {posted.Ok} of {messages} POSTs answered 200 ({posted.RequestsPerSecond:N0}/s, mean {posted.MeanLatency})");
    }

    await WaitArrivedAsync(() => counted.Unique, messages, acked += messages, what);
    var untilAcked = Stopwatch.GetElapsedTime(started, Stopwatch.GetTimestamp());
    Volatile.Write(ref arrivals, null);
    if (posted.Ok != messages || counted.Unique != messages || counted.Duplicates != 0)
    {
        failures.Add($"{what}: {posted.Ok} of {messages} POSTs answered 200, {counted.Unique} arrived, {counted.Duplicates} twice");
    }

    return new Throughput(messages / untilAcked.TotalSeconds, untilAcked.TotalSeconds, posted, counted.Unique, counted.Duplicates);
}

// A live tail of the channel (queue-manager's TailChannel), live once it returns, counting events until cancelled.
static async Task<Tail> TailAsync(QueueAdminService.QueueAdminServiceClient admin, CancellationToken stop)
{
    var call = admin.TailChannel(new TailChannelRequest { Channel = channel }, cancellationToken: stop);
    if (!await call.ResponseStream.MoveNext(CancellationToken.None) || call.ResponseStream.Current.Kind != TailEventKind.Started)
    {
        throw new InvalidOperationException("the tail did not start with a STARTED event");
    }

    var tail = new Tail(call);
    return tail;
}

// Waits until `count` webhooks reached the target (as `arrived` counts them) and acked_total reached `expected`.
async Task WaitArrivedAsync(Func<int> arrived, int count, long expected, string what) =>
    await Eventually.UntilAsync(
        async () => arrived() >= count && await stack.StatAsync(channel, "acked_total") >= expected,
        TimeSpan.FromMinutes(5),
        $"{what}: {count} webhooks at the target and acked",
        TimeSpan.FromMilliseconds(10));

// `count` POSTs by h2load (h2c, clients × streams in flight); its own rate and status counts.
async Task<H2LoadOutput> LoadAsync(Uri uri, int count)
{
    await using var run = ChildProcess.Start("h2load", h2load,
    [
        "-n", count.ToString(CultureInfo.InvariantCulture), "-c", clients.ToString(CultureInfo.InvariantCulture), "-m", streams.ToString(CultureInfo.InvariantCulture),
        "-d", bodyFile, "-H", "content-type: application/json", uri.ToString(),
    ]);
    await run.WaitForExitAsync(TimeSpan.FromMinutes(10));
    return H2LoadOutput.Parse(run.Output);
}

HttpRequestMessage Request(Uri uri, int sequence, long sent)
{
    var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) };
    request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
    request.Headers.Add("X-Bench-Seq", sequence.ToString(CultureInfo.InvariantCulture));
    request.Headers.Add("X-Bench-Sent", sent.ToString(CultureInfo.InvariantCulture));
    return request;
}

async Task<bool> SendAsync(Uri uri, int sequence, long sent, CancellationToken cancellation)
{
    using var request = Request(uri, sequence, sent);
    using var response = await http.SendAsync(request, cancellation);
    return response.StatusCode == HttpStatusCode.OK;
}

// `perSecond` POSTs a second for `duration` seconds, each started at its scheduled time whatever the others do.
async Task<Load> OpenLoopAsync(Uri uri, int perSecond, int duration, CancellationToken cancellation)
{
    var count = perSecond * duration;
    var recorder = new Phase(count);
    Volatile.Write(ref phase, recorder);
    var notOk = 0;
    var inFlight = new List<Task>(count);
    var started = Stopwatch.GetTimestamp();
    var interval = Stopwatch.Frequency / (double)perSecond;
    for (var i = 0; i < count; i++)
    {
        var scheduled = started + (long)(i * interval);
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), scheduled);
        if (wait > TimeSpan.FromMilliseconds(1))
        {
            await Task.Delay(wait, cancellation);
        }

        var sequence = i;
        inFlight.Add(Task.Run(async () =>
        {
            if (!await SendAsync(uri, sequence, scheduled, cancellation))
            {
                Interlocked.Increment(ref notOk);
            }

            // When ingress answered (queued in Redis): the first part of the webhook's way, the rest is delivery.
            recorder.Answered(sequence, Stopwatch.GetTimestamp() - scheduled);
        }, cancellation));
    }

    await Task.WhenAll(inFlight);
    return new Load(count, notOk, recorder);
}

static Uri Metrics(int managementPort) => new($"http://127.0.0.1:{managementPort}/metrics");

async Task MarkPhaseAsync(string line)
{
    if (phaseFile is not null)
    {
        await File.AppendAllTextAsync(phaseFile, line + "\n");
    }
}

int Arg(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>Webhooks that reached the target, told apart by the message id the connector sends with each.</summary>
internal sealed class Arrivals
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _seen = new(StringComparer.Ordinal);
    private int _duplicates;

    public int Unique => _seen.Count;

    public int Duplicates => Volatile.Read(ref _duplicates);

    public void Arrived(string messageId)
    {
        if (!_seen.TryAdd(messageId, 0))
        {
            Interlocked.Increment(ref _duplicates);
        }
    }
}

/// <summary>One throughput run: webhooks per second until the last ack, and what h2load and the target saw.</summary>
internal sealed record Throughput(double Rate, double Seconds, H2LoadOutput Posted, int Arrived, int Duplicates);

/// <summary>A running tail: counts the events it reads until its call is cancelled.</summary>
internal sealed class Tail
{
    private long _events;

    public Tail(Grpc.Core.AsyncServerStreamingCall<TailChannelResponse> call)
    {
        Done = ReadAsync(call);
    }

    public long Events => Interlocked.Read(ref _events);

    public Task Done { get; }

    private async Task ReadAsync(Grpc.Core.AsyncServerStreamingCall<TailChannelResponse> call)
    {
        using (call)
        {
            try
            {
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                    Interlocked.Increment(ref _events);
                }
            }
            catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.Cancelled)
            {
                // Stopped by the benchmark.
            }
        }
    }
}

/// <summary>One measured run of POSTs.</summary>
internal sealed record Load(int Count, int NotOk, Phase Phase);

/// <summary>What the target saw during one phase: which sequence numbers arrived, and each first arrival's latency.</summary>
internal sealed class Phase(int count)
{
    private readonly int[] _seen = new int[count];
    private readonly long[] _latency = new long[count];
    private readonly long[] _answered = new long[count];
    private int _unique;
    private int _duplicates;
    private int _unparsed;

    public int Unique => Volatile.Read(ref _unique);

    public int Duplicates => Volatile.Read(ref _duplicates);

    public int Unparsed => Volatile.Read(ref _unparsed);

    public void Arrived(string sequenceHeader, string sentHeader)
    {
        var now = Stopwatch.GetTimestamp();
        if (!int.TryParse(sequenceHeader, CultureInfo.InvariantCulture, out var sequence) || sequence < 0 || sequence >= _seen.Length
            || !long.TryParse(sentHeader, CultureInfo.InvariantCulture, out var sent))
        {
            Interlocked.Increment(ref _unparsed);
            return;
        }

        if (Interlocked.Exchange(ref _seen[sequence], 1) == 1)
        {
            Interlocked.Increment(ref _duplicates);
            return;
        }

        _latency[sequence] = now - sent;
        Interlocked.Increment(ref _unique);
    }

    public string Describe()
    {
        var arrived = Sorted();
        if (arrived.Length == 0)
        {
            return "nothing arrived";
        }

        string Ms(long ticks) => (ticks * 1000.0 / Stopwatch.Frequency).ToString("0.0", CultureInfo.InvariantCulture) + " ms";
        return $"p50 {Ms(At(arrived, 0.50))}  p99 {Ms(At(arrived, 0.99))}  max {Ms(arrived[^1])}";
    }

    /// <summary>The sender's own view: from the scheduled send until ingress answered.</summary>
    public void Answered(int sequence, long ticks) => _answered[sequence] = ticks;

    public string DescribeAnswered()
    {
        var sorted = _answered.Order().ToArray();
        string Ms(long ticks) => (ticks * 1000.0 / Stopwatch.Frequency).ToString("0.0", CultureInfo.InvariantCulture) + " ms";
        return $"p50 {Ms(At(sorted, 0.50))}  p99 {Ms(At(sorted, 0.99))}  max {Ms(sorted[^1])}";
    }

    /// <summary>A latency quantile in milliseconds; infinity when nothing arrived.</summary>
    public double QuantileMilliseconds(double quantile)
    {
        var arrived = Sorted();
        return arrived.Length == 0 ? double.PositiveInfinity : At(arrived, quantile) * 1000.0 / Stopwatch.Frequency;
    }

    private long[] Sorted() => _latency.Where((_, i) => Volatile.Read(ref _seen[i]) == 1).Order().ToArray();

    private static long At(long[] sorted, double quantile) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1)];
}

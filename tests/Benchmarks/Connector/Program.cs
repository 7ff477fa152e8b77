// Connector benchmark (not a test; SPEC §13 "a connector draining a 100 000-message backlog into a local Kestrel target
// at ≥ 25 000 messages/s", "the HTTP/1.1 connector protocols drain at ≥ 50 % of the gRPC rate", "reconnect after a
// queue-manager restart < 2 s").
// Usage: dotnet run -c Release --project tests/Benchmarks/Connector -- [--messages 100000]
//        [--protocols grpc,websocket,sse,long-poll] [--max-in-flight 1000] [--body-bytes 1024] [--h2load-requests 200000]
//        [--target-connections 0] [--restarts 5]
// Starts its own redis-server, queue-manager and a Kestrel target on 127.0.0.1; publishes the backlog; measures the
// target's raw request rate with h2load (HTTP/1.1, 64 connections) in the same run; then, once per protocol (SPEC §13:
// the HTTP/1.1 protocols should drain at ≥ 50 % of the gRPC rate), publishes the same backlog to a fresh channel,
// starts the connector binary with --protocol and times the drain from its first request to the last ack; prints each
// protocol's rate and its ratio to gRPC's. Issue 19: each drain's cost, CPU µs per message of the connector (from its
// first target request; its start-up is printed apart), queue-manager, redis-server and this process (the target),
// from /proc/<pid>/stat, and Redis commands per message (INFO commandstats); the same for the queue-manager ceiling.
// At the end, SPEC §13's goals beside this run's figures and same-run limits. Exits 1 if the counts are not exact
// (a goal not met is printed, not a failure).
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using WebhookConnect.Benchmarks;
using WebhookConnect.Benchmarks.Queue;
using WebhookConnect.TestKit;

var messages = Arg("--messages", 100_000);
var maxInFlight = Arg("--max-in-flight", 1000);
var bodyBytes = Arg("--body-bytes", 1024);
var h2loadRequests = Arg("--h2load-requests", 200_000);
var targetConnections = Arg("--target-connections", 0);
var restarts = Arg("--restarts", 5);
string[] knownProtocols = ["grpc", "websocket", "sse", "long-poll"];
var protocolsAt = Array.IndexOf(args, "--protocols");
var protocols = (protocolsAt >= 0 && protocolsAt + 1 < args.Length ? args[protocolsAt + 1] : "grpc,websocket,sse,long-poll")
    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
if (protocols.Length == 0 || protocols.Except(knownProtocols).Any())
{
    Console.Error.WriteLine($"--protocols takes a comma-separated list of {string.Join(", ", knownProtocols)}; got '{string.Join(",", protocols)}'");
    return 2;
}

if (args.Contains("--help"))
{
    Console.WriteLine("usage: [--messages 100000] [--protocols grpc,websocket,sse,long-poll] [--max-in-flight 1000] [--body-bytes 1024]");
    Console.WriteLine("       [--h2load-requests 200000] [--target-connections 0] [--restarts 5]");
    return 0;
}

using var cancel = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    cancel.Cancel();
});

// The target: answers 200 at once, counts requests per path, remembers when /hook saw its first and last request and
// the CPU time the connector (connectorPid) had spent by its first request: its start-up, kept out of the drain's cost.
var port = FreePort.Next();
long hooks = 0, baseline = 0, firstHook = 0, lastHook = 0;
var connectorPid = 0;
var connectorStartupCpu = TimeSpan.Zero;
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
var target = builder.Build();
target.Run(async context =>
{
    await context.Request.Body.CopyToAsync(Stream.Null);
    if (context.Request.Path == "/hook")
    {
        var now = Stopwatch.GetTimestamp();
        if (Interlocked.Increment(ref hooks) == 1)
        {
            Interlocked.Exchange(ref firstHook, now);
            connectorStartupCpu = CostMeter.CpuTime(Volatile.Read(ref connectorPid));
        }

        Interlocked.Exchange(ref lastHook, now);
    }
    else
    {
        Interlocked.Increment(ref baseline);
    }

    context.Response.StatusCode = 200;
});
await target.StartAsync();

var rows = new List<(string What, string Value)>();
var failures = new List<string>();
var goals = new List<(string Goal, string Measured, bool Met)>();
await using var stack = await BenchStack.StartAsync();
double? targetRate = null;
ChildProcess? connector = null;
var directory = Directory.CreateTempSubdirectory("wc-connector-bench-").FullName;
try
{
    const string channel = "bench";
    var token = await stack.CreateChannelAsync(channel, messages + 1000, maxInFlight);

    // 2. The raw limit of the target, same run: h2load over HTTP/1.1 with the same body.
    var bodyFile = Path.Combine(directory, "body");
    File.WriteAllBytes(bodyFile, Encoding.ASCII.GetBytes(new string('x', bodyBytes)));
    var h2load = FindOnPath("h2load");
    if (h2load is null)
    {
        rows.Add(("target raw rate (h2load)", "skipped: apt-get install nghttp2-client"));
    }
    else
    {
        var output = await RunAsync(h2load, ["--h1", "-n", h2loadRequests.ToString(CultureInfo.InvariantCulture), "-c", "64", "-t", "1", "-d", bodyFile,
            "-H", "content-type: application/json", $"http://127.0.0.1:{port}/baseline"]);
        var match = Regex.Match(output, @"finished in [^,]+, (?<rate>[\d.]+) req/s");
        targetRate = match.Success ? double.Parse(match.Groups["rate"].Value, CultureInfo.InvariantCulture) : null;
        rows.Add(("target raw rate (h2load --h1, 64 connections, POST)", targetRate is { } r ? $"{r:0} req/s" : "unparsed: " + output));
        var succeeded = Regex.Match(output, @"(?<ok>\d+) succeeded");
        if (!succeeded.Success || succeeded.Groups["ok"].Value != h2loadRequests.ToString(CultureInfo.InvariantCulture))
        {
            failures.Add("h2load did not complete every request:\n" + output);
        }
    }

    // 3. The queue-manager's own ceiling, same run: a target-less stream client that acks every delivery at once.
    const string rawChannel = "bench-raw";
    var rawToken = await stack.CreateChannelAsync(rawChannel, messages + 1000, maxInFlight);
    await PublishLoad.RunAsync(stack.QueueManager.Internal.Channel, rawChannel, "r", messages, bodyBytes, 64, null, cancel.Token);
    (string, int)[] stackProcesses =
    [
        ("queue-manager", stack.QueueManager.Process.Id),
        ("redis-server", stack.Redis.ProcessId ?? throw new InvalidOperationException("redis-server is not running")),
    ];
    var rawMeter = new CostMeter(stack.Server, stackProcesses, "this process (stream client)");
    await rawMeter.StartAsync();
    var raw = await DrainConnector.RunAsync(stack.QueueManager.Channel, rawChannel, rawToken, (uint)maxInFlight, messages, cancel.Token);
    var rawCost = await rawMeter.StopAsync(raw.Unique);
    var rawSeconds = Stopwatch.GetElapsedTime(raw.FirstDeliveryTimestamp, raw.LastAckTimestamp).TotalSeconds;
    var ceiling = raw.Unique / rawSeconds;
    rows.Add(("queue-manager ceiling (stream client, no target)", $"{ceiling:0} msg/s ({rawSeconds:0.00} s)"));
    rows.Add(("  CPU µs per message, each process", rawCost.DescribeCpu()));
    rows.Add(("  Redis commands per message", rawCost.DescribeCommands()));
    var meter = new CostMeter(stack.Server, stackProcesses, "this process (target)");

    // 4. The connector drains the same backlog once per protocol: a fresh channel and backlog each, the same target and
    //    settings, one connector process at a time (the previous one is stopped before the next backlog is published).
    var assembly = ServiceBinaries.Assembly("Connector", "WebhookConnect.Connector");

    // One connector process for one channel over one protocol; the HTTP/1.1 protocols reach queue-manager's port 5003
    // stand-in (a free port here) through --queue-manager-http.
    (ChildProcess Process, int ManagementPort) StartConnector(string protocol, string name, string channelToken)
    {
        File.WriteAllText(Path.Combine(directory, $"token-{name}"), channelToken);
        var config = Path.Combine(directory, $"connector-{name}.yaml");
        File.WriteAllText(config, $"""
            subscriptions:
              - channel: {name}
                token_file: {directory}/token-{name}
                max_in_flight: {maxInFlight}
                default_target:
                  url: http://127.0.0.1:{port}/hook
            target_max_connections: {targetConnections}
            logging:
              log_level:
                Default: Warning
            """);
        var management = FreePort.Next();
        var process = ChildProcess.Start($"connector-{protocol}", "dotnet", [assembly, "--config", config, "--insecure",
            "--queue-manager", $"http://127.0.0.1:{stack.QueueManager.GrpcPort}", "--queue-manager-http", stack.QueueManager.HttpAddress.ToString().TrimEnd('/'),
            "--protocol", protocol, "--management-host", "127.0.0.1", "--management-port", management.ToString(CultureInfo.InvariantCulture)]);
        return (process, management);
    }

    double? grpcRate = null;
    var drains = new List<(string Protocol, double Rate, double Seconds)>();
    foreach (var protocol in protocols)
    {
        var protocolChannel = protocol == "grpc" ? channel : $"{channel}-{protocol}";
        var protocolToken = protocol == "grpc" ? token : await stack.CreateChannelAsync(protocolChannel, messages + 1000, maxInFlight);
        var publish = await PublishLoad.RunAsync(stack.QueueManager.Internal.Channel, protocolChannel, protocol[0..1], messages, bodyBytes, 64, null, cancel.Token);
        Interlocked.Exchange(ref hooks, 0);
        Interlocked.Exchange(ref firstHook, 0);
        var started = Stopwatch.GetTimestamp();
        // Queue-manager's share too: the HTTP/1.1 protocols move work (JSON frames, one settlement per message) to it.
        await meter.StartAsync();
        connectorStartupCpu = TimeSpan.Zero;
        (connector, _) = StartConnector(protocol, protocolChannel, protocolToken);
        Volatile.Write(ref connectorPid, connector.Id);
        await Eventually.UntilAsync(async () =>
        {
            if (connector.HasExited)
            {
                throw new InvalidOperationException($"connector ({protocol}) exited:\n" + connector.Output);
            }

            return await stack.StatAsync(protocolChannel, "acked_total") >= messages;
        }, TimeSpan.FromMinutes(10), $"the backlog to be acked over {protocol}", TimeSpan.FromMilliseconds(20));
        var acked = Stopwatch.GetTimestamp();
        // The connector's CPU from its first target request on: its start-up (runtime, JIT, subscribe) is not drain work.
        var startupCpu = connectorStartupCpu;
        meter.StartedDuringPhase("connector", connector.Id, startupCpu);
        var cost = await meter.StopAsync(messages);
        var drain = Stopwatch.GetElapsedTime(Interlocked.Read(ref firstHook), acked);
        var withStartup = Stopwatch.GetElapsedTime(started, acked);
        var (rss, peak) = BenchStack.Memory(connector.Id);
        var rate = messages / drain.TotalSeconds;
        grpcRate ??= protocol == "grpc" ? rate : null;
        drains.Add((protocol, rate, drain.TotalSeconds));
        rows.Add(($"connector drain over {protocol} (first target request → last ack)", $"{rate:0} msg/s ({drain.TotalSeconds:0.00} s, max_in_flight {maxInFlight}, target connections {(targetConnections == 0 ? "unlimited" : targetConnections)})"));
        rows.Add(("  backlog published before (Publish, 64 in flight)", $"{publish.Count} × {bodyBytes} B in {publish.Elapsed.TotalSeconds:0.0} s ({publish.Rate:0} msg/s)"));
        rows.Add(("  including process start and subscribe", $"{messages / withStartup.TotalSeconds:0} msg/s ({withStartup.TotalSeconds:0.00} s)"));
        var requests = Interlocked.Read(ref hooks);
        var ackedTotal = await stack.StatAsync(protocolChannel, "acked_total");
        rows.Add(("  target requests / acked / delivered", $"{requests} / {ackedTotal} / {await stack.StatAsync(protocolChannel, "delivered_total")}"));
        rows.Add(("  connector memory (RSS / peak)", $"{rss / 1048576} MiB / {peak / 1048576} MiB"));
        rows.Add(("  CPU µs per message, each process", cost.DescribeCpu()));
        rows.Add(("  connector start-up until its first target request (not above)", $"{startupCpu.TotalSeconds:0.00} s CPU"));
        rows.Add(("  Redis commands per message", cost.DescribeCommands()));
        if (requests != messages || ackedTotal != messages)
        {
            failures.Add($"{protocol}: expected exactly {messages} target requests and acks, got {requests} and {ackedTotal}");
        }

        await StopConnectorAsync();
    }

    foreach (var (protocol, rate, seconds) in drains)
    {
        rows.Add(($"drain rate over {protocol}", $"{rate:0} msg/s ({seconds:0.00} s), {(grpcRate is { } g ? $"{rate / g * 100:0} % of gRPC's rate" : "no gRPC run to compare")}"));
    }

    if (grpcRate is { } grpc)
    {
        var limits = $"queue-manager ceiling {ceiling:N0} msg/s, target raw rate {(targetRate is { } t ? $"{t:N0} req/s" : "not measured")}, same run";
        goals.Add(($"connector drain over gRPC ≥ 25 000 msg/s ({limits})", $"{grpc:N0} msg/s, {grpc / ceiling:P0} of the ceiling", grpc >= 25_000));
        foreach (var (protocol, rate, _) in drains.Where(d => d.Protocol != "grpc"))
        {
            goals.Add(($"drain over {protocol} (HTTP/1.1) ≥ 50 % of gRPC's {grpc:N0} msg/s", $"{rate:N0} msg/s, {rate / grpc:P0}", rate >= 0.5 * grpc));
        }
    }

    // 5. Reconnect after a queue-manager restart (SPEC §13: < 2 s), with the default backoff (full jitter, 1 s → 60 s):
    //    kill -9 the replica, start a new one on the same port, time from "it serves" to "/readyz is 200 again".
    //    Measured over gRPC, with a connector of its own on the (drained) gRPC channel.
    var managementPort = 0;
    if (restarts > 0)
    {
        (connector, managementPort) = StartConnector("grpc", channel, token);
    }

    // 5. Reconnect after a queue-manager restart (SPEC §13: < 2 s), with the default backoff (full jitter, 1 s → 60 s):
    //    kill -9 the replica, start a new one on the same port, time from "it serves" to "/readyz is 200 again".
    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
    async Task<bool> ReadyAsync()
    {
        try
        {
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{managementPort}/readyz"));
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    var resumeTimes = new List<double>();
    var current = stack.QueueManager;
    for (var round = 0; round < restarts; round++)
    {
        await Eventually.UntilAsync(ReadyAsync, TimeSpan.FromMinutes(2), "the connector to be ready", TimeSpan.FromMilliseconds(10));
        // Let the stream count as healthy (10 s subscribed) so each round starts from a reset backoff.
        await Task.Delay(TimeSpan.FromSeconds(11));
        current.Process.Signal(ChildProcess.SigKill);
        await current.Process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        if (round > 0)
        {
            await current.DisposeAsync();
        }

        await Eventually.UntilAsync(async () => !await ReadyAsync(), TimeSpan.FromMinutes(1), "the connector to notice", TimeSpan.FromMilliseconds(10));
        current = await QueueManagerProcess.StartAsync(stack.Redis.Endpoint, new Dictionary<string, string> { ["QueueManager:DrainGracePeriod"] = "00:00:01" }, $"qm-restart-{round}", stack.QueueManager.GrpcPort);
        var serving = Stopwatch.StartNew();
        await Eventually.UntilAsync(ReadyAsync, TimeSpan.FromMinutes(2), "the connector to resume", TimeSpan.FromMilliseconds(10));
        resumeTimes.Add(serving.Elapsed.TotalSeconds);
    }

    if (restarts > 0)
    {
        resumeTimes.Sort();
        rows.Add(($"reconnect after kill -9 + restart ({restarts}×, default backoff)",
            $"resumed {resumeTimes[0]:0.00} / {resumeTimes[resumeTimes.Count / 2]:0.00} / {resumeTimes[^1]:0.00} s (min / median / max) after the new replica served"));
        goals.Add(($"reconnect after a queue-manager restart < 2 s (slowest of {restarts})", $"{resumeTimes[^1]:0.00} s", resumeTimes[^1] < 2));
        await current.DisposeAsync();
    }
}
finally
{
    await StopConnectorAsync();
    await target.StopAsync();
    Directory.Delete(directory, recursive: true);
}

Console.WriteLine();
Console.WriteLine("SPEC §13 goals, this run (no gRPC drain: --protocols without grpc; reconnect: --restarts 0 skips it)");
foreach (var (goal, measured, met) in goals)
{
    Console.WriteLine($"  {(met ? "met    " : "NOT met")}  {goal}: {measured}");
}

Console.WriteLine();
Console.WriteLine($"Connector benchmark ({Environment.ProcessorCount} cores, everything on this machine)");
foreach (var (what, value) in rows)
{
    Console.WriteLine($"  {what,-66} {value}");
}

foreach (var failure in failures)
{
    Console.WriteLine("FAILED: " + failure);
}

return failures.Count == 0 ? 0 : 1;

async Task StopConnectorAsync()
{
    if (connector is not null)
    {
        connector.Signal(ChildProcess.SigTerm);
        await connector.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await connector.DisposeAsync();
        connector = null;
    }
}

int Arg(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

static string? FindOnPath(string name) =>
    (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

static async Task<string> RunAsync(string file, IEnumerable<string> arguments)
{
    await using var process = ChildProcess.Start(Path.GetFileName(file), file, arguments);
    await process.WaitForExitAsync(TimeSpan.FromMinutes(5));
    return process.Output;
}

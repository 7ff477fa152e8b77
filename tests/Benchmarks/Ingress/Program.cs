// Ingress benchmark (SPEC §13: ingest alone, POST → durably queued 200, ≥ 25 000 requests/s on 2 cores). Not a test:
// it prints figures.
//
//   dotnet run -c Release --project tests/Benchmarks/Ingress -- [--seconds 10] [--clients 16] [--streams 16] [--h1] [--rps N]
//
// It starts a private redis-server, the queue-manager and ingress binaries (Release), creates a channel, and drives
// 1 KiB JSON webhooks with h2load (nghttp2-client) at:
//   a. an empty Kestrel endpoint in this process (same protocols, same h2c detection): the machine's ceiling;
//   b. ingress with the queue up (200), one unary Publish per request (Ingress:PublishBatching=false);
//   c. the same coalescing concurrent requests into PublishBatch calls (the default);
//   d. ingress with Redis stopped (202: every request appended to the spool and fsynced, in groups).
// Every run checks its status codes: a row whose answers are not all the expected code says so.
// Issue 19: each row's cost, CPU µs per request of ingress, queue-manager and redis-server (and of this process and
// h2load; row a: of this process, the empty endpoint), from /proc/<pid>/stat over the measured run only, and Redis
// commands per request (INFO commandstats deltas; not counted in row d, Redis is stopped). At the end, SPEC §13's
// ingest goal beside row a of the same run (printed, not an exit code). --rps N holds every connection to N
// requests/s (h2load --rps), so that CPU per request is compared at one rate, not at whatever rate the machine allowed
// that run (a faster run amortises more per PublishBatch call).
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using StackExchange.Redis;
using WebhookConnect.Benchmarks;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Intake;
using WebhookConnect.TestKit;

var seconds = Option("--seconds", 10);
var clients = Option("--clients", 16);
var streams = Option("--streams", 16);
var http1 = args.Contains("--h1");
var rps = Option("--rps", 0);
var h2load = Prerequisites.RequireExecutable("h2load", "sudo apt-get install -y nghttp2-client");

var bodyFile = Path.Combine(Path.GetTempPath(), $"wc-bench-{Environment.ProcessId}.json");
await File.WriteAllTextAsync(bodyFile, OneKiBJson());
var rows = new List<(string What, string Result)>();

// a. The empty endpoint.
var emptyPort = FreePort.Next();
var empty = WebApplication.CreateSlimBuilder();
empty.Logging.ClearProviders();
empty.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, emptyPort, l =>
{
    l.Protocols = HttpProtocols.Http1AndHttp2;
    l.UseCleartextHttp2Detection();
}));
empty.WebHost.ConfigureKestrel(k => k.AllowAlternateSchemes = true);
var emptyApp = empty.Build();
emptyApp.MapPost("/webhook/{id}", async context =>
{
    // Read the body as ingress must, then answer.
    await context.Request.Body.CopyToAsync(Stream.Null);
    context.Response.StatusCode = 200;
});
await emptyApp.StartAsync();
var (baseline, emptyCost) = await LoadAsync($"http://127.0.0.1:{emptyPort}/webhook/bench", new CostMeter(null, [], "this process (the endpoint)"));
rows.Add(("a. empty Kestrel endpoint (reads the body, 200)", baseline.Describe()));
rows.Add(("   CPU µs per request, each process", emptyCost.DescribeCpu()));
await emptyApp.StopAsync();

// The stack: redis-server, queue-manager, a channel that never fills within the run.
await using var redis = await RedisServer.StartAsync();
await using var queueManager = await QueueManagerProcess.StartAsync(redis.Endpoint);
await using var multiplexer = await ConnectionMultiplexer.ConnectAsync($"{redis.Endpoint},allowAdmin=true");
var redisPid = redis.ProcessId ?? throw new InvalidOperationException("redis-server is not running");
var redisInfo = multiplexer.GetServer(redis.Endpoint);
const string self = "this process (waits for h2load)";
var goals = new List<(string Goal, string Measured, bool Met)>();
var admin = new QueueAdminService.QueueAdminServiceClient(queueManager.Internal.Channel);
await admin.CreateChannelAsync(new CreateChannelRequest
{
    Channel = "bench",
    // Ingest is measured with nothing draining: the queue's limits (count and the byte budget) must not be what stops it.
    Settings = new ChannelSettings { MaxQueueSize = 10_000_000, MaxQueueBytes = 1UL << 40, Ttl = Duration.FromTimeSpan(TimeSpan.FromHours(1)) },
    Endpoints = { new EndpointConfig { Id = "bench", Verification = TestChannels.Unverified } },
});

var spool = Directory.CreateTempSubdirectory("wc-bench-spool-").FullName;
try
{
    // b. Queue up, one unary Publish per request.
    await using (var ingress = await IngressProcess.StartAsync(queueManager.InternalPort, spool, new Dictionary<string, string> { ["Ingress:PublishBatching"] = "false" }))
    {
        var (unary, cost) = await LoadAsync($"http://127.0.0.1:{ingress.Port}/webhook/bench", new CostMeter(redisInfo, Processes(ingress, redisPid), self));
        rows.Add(("b. ingress, queue up (200), unary Publish", unary.Describe(baseline)));
        AddCost(cost);
    }

    // c. Queue up, coalesced PublishBatch.
    await using (var ingress = await IngressProcess.StartAsync(queueManager.InternalPort, spool))
    {
        var (batched, cost) = await LoadAsync($"http://127.0.0.1:{ingress.Port}/webhook/bench", new CostMeter(redisInfo, Processes(ingress, redisPid), self));
        rows.Add(("c. ingress, queue up (200), PublishBatch coalescing", batched.Describe(baseline)));
        AddCost(cost);
        var ratio = batched.RequestsPerSecond / baseline.RequestsPerSecond;
        goals.Add(($"ingest alone (row c: POST → queued, 200) ≥ 25 000 req/s, every answer 200 (empty Kestrel endpoint {baseline.RequestsPerSecond:N0} req/s, same run)",
            $"{batched.RequestsPerSecond:N0} req/s, {ratio:P0} of the empty endpoint, {batched.Errors} not 2xx", batched.RequestsPerSecond >= 25_000 && batched.Errors == 0));
    }

    // d. Redis down: every request goes to the spool (202).
    await using (var ingress = await IngressProcess.StartAsync(queueManager.InternalPort, spool))
    {
        await redis.StopAsync();
        var (spooled, cost) = await LoadAsync($"http://127.0.0.1:{ingress.Port}/webhook/bench", new CostMeter(null, Processes(ingress, null), self));
        var depth = await ingress.MetricAsync("webhookconnect_ingress_spool_messages");
        rows.Add(("d. ingress, Redis stopped (202, spooled + fsync)", spooled.Describe(baseline) + $"; spool depth after: {depth}"));
        AddCost(cost);
    }
}
finally
{
    Directory.Delete(spool, recursive: true);
    File.Delete(bodyFile);
}

Console.WriteLine();
Console.WriteLine("SPEC §13 goals, this run (end to end: tests/Benchmarks/EndToEnd; connector drain: tests/Benchmarks/Connector; memory: tests/Benchmarks/Queue)");
foreach (var (goal, measured, met) in goals)
{
    Console.WriteLine($"  {(met ? "met    " : "NOT met")}  {goal}: {measured}");
}

Console.WriteLine();
Console.WriteLine($"Ingress benchmark: 1 KiB JSON POSTs, h2load {(http1 ? "HTTP/1.1" : "h2c")}, {clients} connections{(http1 ? "" : $" × {streams} streams")}{(rps > 0 ? $" at {rps} req/s each" : "")}, {seconds} s per row, {Environment.ProcessorCount} cores");
foreach (var (what, result) in rows)
{
    Console.WriteLine($"  {what,-52} {result}");
}

return 0;

void AddCost(Cost cost)
{
    rows.Add(("   CPU µs per request, each process", cost.DescribeCpu()));
    rows.Add(("   CPU µs per request, ingress + queue-manager + redis", $"{cost.MicrosOf(["ingress", "queue-manager", "redis-server"]),9:0.0} µs"));
    rows.Add(("   Redis commands per request", cost.DescribeCommands()));
}

(string Name, int Pid)[] Processes(IngressProcess ingress, int? redisServer) =>
    redisServer is { } pid
        ? [("ingress", ingress.Process.Id), ("queue-manager", queueManager.Process.Id), ("redis-server", pid)]
        : [("ingress", ingress.Process.Id), ("queue-manager", queueManager.Process.Id)];

// h2load against url after a warm-up; the meter covers the measured run only, per request h2load completed.
async Task<(H2LoadOutput Result, Cost Cost)> LoadAsync(string url, CostMeter meter)
{
    var arguments = new List<string> { "-D", seconds.ToString(CultureInfo.InvariantCulture), "-c", clients.ToString(CultureInfo.InvariantCulture), "-d", bodyFile, "-H", "content-type: application/json" };
    if (http1)
    {
        arguments.AddRange(["--h1", "-m", "1"]);
    }
    else
    {
        arguments.AddRange(["-m", streams.ToString(CultureInfo.InvariantCulture)]);
    }

    if (rps > 0)
    {
        arguments.Add("--rps=" + rps.ToString(CultureInfo.InvariantCulture));
    }

    // Warm-up at the same concurrency (JIT tiering, connection pools), not counted.
    var warmUp = new List<string>(arguments) { url };
    warmUp[1] = Math.Min(5, seconds).ToString(CultureInfo.InvariantCulture);
    await RunAsync(h2load, warmUp);
    arguments.Add(url);
    await meter.StartAsync();
    var result = H2LoadOutput.Parse(await RunAsync(h2load, arguments));
    return (result, await meter.StopAsync(Math.Max(1, result.Ok + result.Errors)));
}

static async Task<string> RunAsync(string file, IEnumerable<string> arguments)
{
    var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var argument in arguments)
    {
        info.ArgumentList.Add(argument);
    }

    using var process = Process.Start(info)!;
    var stdout = process.StandardOutput.ReadToEndAsync();
    var stderr = process.StandardError.ReadToEndAsync();
    await process.WaitForExitAsync();
    return await stdout + await stderr;
}

int Option(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

static string OneKiBJson()
{
    var json = new StringBuilder("{\"type\":\"order.created\",\"data\":{\"id\":\"ord_1234567890\",\"padding\":\"");
    var closing = "\"}}";
    json.Append('x', 1024 - json.Length - closing.Length).Append(closing);
    return json.ToString();
}

internal static class LoadText
{
    public static string Describe(this H2LoadOutput result, H2LoadOutput? baseline = null) =>
        $"{result.RequestsPerSecond,9:N0} req/s  mean {result.MeanLatency,-8}  {result.Ok} 2xx, {result.Errors} 4xx/5xx"
        + (baseline is { } b ? $"  ({result.RequestsPerSecond / b.RequestsPerSecond:P0} of empty)" : "");
}

// Ingress benchmark (SPEC §13: ingest ≥ 10 000 requests/s on 2 cores). Not a test: it prints figures.
//
//   dotnet run -c Release --project tests/Benchmarks/Ingress -- [--seconds 10] [--clients 16] [--streams 16] [--h1] [--rps N]
//
// It starts a private redis-server, the queue-manager and ingress binaries (Release), creates a channel, and drives
// 1 KiB JSON webhooks with h2load (nghttp2-client) at:
//   a. an empty Kestrel endpoint in this process (same protocols, same h2c detection): the machine's ceiling;
//   b. ingress with the queue up (200), one unary Publish per request (Ingress:PublishBatching=false);
//   c. the same coalescing concurrent requests into PublishBatch calls (the default);
//   d. ingress with Redis stopped (202: every request appended to the spool and fsynced, in groups).
// Every run checks its status codes: a row whose answers are not all the expected code says so. --rps N holds every
// connection to N requests/s (h2load --rps), so that CPU per request is compared at one rate, not at whatever rate the
// machine allowed that run (a faster run amortises more per PublishBatch call).
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;
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
var cpuPerRequest = ""; // the last measured run's CPU µs per request of each metered process (issue 19)

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
var baseline = await LoadAsync($"http://127.0.0.1:{emptyPort}/webhook/bench");
rows.Add(("a. empty Kestrel endpoint (reads the body, 200)", baseline.Describe()));
await emptyApp.StopAsync();

// The stack: redis-server, queue-manager, a channel that never fills within the run.
await using var redis = await RedisServer.StartAsync();
await using var queueManager = await QueueManagerProcess.StartAsync(redis.Endpoint);
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
        var unary = await LoadAsync($"http://127.0.0.1:{ingress.Port}/webhook/bench", ("ingress", ingress.Process.Id), ("queue-manager", queueManager.Process.Id));
        rows.Add(("b. ingress, queue up (200), unary Publish", unary.Describe(baseline) + cpuPerRequest));
    }

    // c. Queue up, coalesced PublishBatch.
    await using (var ingress = await IngressProcess.StartAsync(queueManager.InternalPort, spool))
    {
        var batched = await LoadAsync($"http://127.0.0.1:{ingress.Port}/webhook/bench", ("ingress", ingress.Process.Id), ("queue-manager", queueManager.Process.Id));
        rows.Add(("c. ingress, queue up (200), PublishBatch coalescing", batched.Describe(baseline) + cpuPerRequest));
    }

    // d. Redis down: every request goes to the spool (202).
    await using (var ingress = await IngressProcess.StartAsync(queueManager.InternalPort, spool))
    {
        await redis.StopAsync();
        var spooled = await LoadAsync($"http://127.0.0.1:{ingress.Port}/webhook/bench", ("ingress", ingress.Process.Id), ("queue-manager", queueManager.Process.Id));
        var depth = await ingress.MetricAsync("webhookconnect_ingress_spool_messages");
        rows.Add(("d. ingress, Redis stopped (202, spooled + fsync)", spooled.Describe(baseline) + cpuPerRequest + $"; spool depth after: {depth}"));
    }
}
finally
{
    Directory.Delete(spool, recursive: true);
    File.Delete(bodyFile);
}

Console.WriteLine();
Console.WriteLine($"Ingress benchmark: 1 KiB JSON POSTs, h2load {(http1 ? "HTTP/1.1" : "h2c")}, {clients} connections{(http1 ? "" : $" × {streams} streams")}{(rps > 0 ? $" at {rps} req/s each" : "")}, {seconds} s per row, {Environment.ProcessorCount} cores");
foreach (var (what, result) in rows)
{
    Console.WriteLine($"  {what,-52} {result}");
}

return 0;

// CPU per request (from /proc/<pid>/stat) is the figure to compare on a shared machine, where the rate swings.
async Task<H2LoadOutput> LoadAsync(string url, params (string Name, int Pid)[] metered)
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
    var before = metered.Select(p => CpuTime(p.Pid)).ToArray();
    var result = H2LoadOutput.Parse(await RunAsync(h2load, arguments));
    var requests = Math.Max(1, result.Ok + result.Errors);
    cpuPerRequest = metered.Length == 0 ? "" : "  CPU µs/req: " + string.Join(", ", metered.Select((p, i) =>
        $"{p.Name} {((CpuTime(p.Pid) - before[i]).TotalMicroseconds / requests).ToString("0.0", CultureInfo.InvariantCulture)}"));
    return result;
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

// utime + stime of a live process (proc(5): fields 14 and 15, in clock ticks of 10 ms). CostMeter has the same, but
// it brings StackExchange.Redis with it.
static TimeSpan CpuTime(int pid)
{
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return TimeSpan.FromMilliseconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10);
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

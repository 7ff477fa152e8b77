// Transport micro-benchmark (not a test). Starts a gRPC server in-process on 127.0.0.1, built as our services build
// theirs (Grpc.AspNetCore with GrpcServerDefaults: AddGrpcServerDefaults, ListenGrpc, MapGrpcStandardServices), and
// measures, with a channel built by GrpcClientDefaults (Grpc.Net.Client) — "ours" below means that configuration:
//   - bidi stream messages/s (200-byte payloads, echoed) and unary calls/s;
//   - the same server driven by independent clients from the same run: @grpc/grpc-js (tests/interop/bench.mjs)
//     and h2load (nghttp2-client) for unary, so the ratio is meaningful on a noisy machine.
// Usage: dotnet run -c Release --project tests/Benchmarks/Transport [-- --seconds 5]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;

var seconds = args.Length >= 2 && args[0] == "--seconds" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
var duration = TimeSpan.FromSeconds(seconds);
var port = FreePort.Next();
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k => k.ListenGrpc(IPAddress.Loopback, port));
builder.AddGrpcServerDefaults();
// One instance for all calls, as our services register theirs (Grpc.AspNetCore's default is one per call).
builder.Services.AddSingleton<BenchEcho>();
var app = builder.Build();
app.MapGrpcService<BenchEcho>();
app.MapGrpcStandardServices();
await app.StartAsync();
var address = $"http://127.0.0.1:{port}";
Console.WriteLine($"server {address} (Grpc.AspNetCore + GrpcServerDefaults, client Grpc.Net.Client + GrpcClientDefaults), " +
    $"{duration.TotalSeconds:0} s per measurement, {Environment.ProcessorCount} cores");

var payload = ByteString.CopyFrom(new byte[200]);
using var channel = GrpcClientDefaults.CreateChannel(address, GrpcClientDefaults.CreateHandler());
var client = new EchoService.EchoServiceClient(channel);
await client.EchoAsync(new EchoRequest { Payload = payload });

var rows = new List<(string What, string Rate)>();

// Bidi: one writer pipelines requests while one reader counts echoed responses; at most `window` outstanding.
foreach (var streams in new[] { 1, 4 })
{
    var rate = await MeasureBidiAsync(client, payload, streams, duration);
    rows.Add(($"ours → ours   bidi, {streams} stream(s), 200 B msgs", $"{rate,12:N0} msg/s"));
}

rows.Add(("ours → ours   server streaming, 200 B msgs", $"{await MeasureServerStreamingAsync(client, duration),12:N0} msg/s"));
rows.Add(("ours → ours   client streaming, 200 B msgs", $"{await MeasureClientStreamingAsync(client, payload, duration, flushEvery: 1),12:N0} msg/s"));
rows.Add(("ours → ours   client streaming, BufferHint, flush/64", $"{await MeasureClientStreamingAsync(client, payload, duration, flushEvery: 64),12:N0} msg/s"));

foreach (var concurrency in new[] { 1, 64 })
{
    var rate = await MeasureUnaryAsync(client, payload, concurrency, duration);
    rows.Add(($"ours → ours   unary, {concurrency} concurrent", $"{rate,12:N0} calls/s"));
}

// Our client against the grpc-js server, to tell our client's share from our server's.
if (Directory.Exists(Path.Combine(RepoPaths.Interop, "node_modules")))
{
    var (nodeServer, nodePort) = await NodeInterop.StartServerAsync(TimeSpan.FromSeconds(30));
    await using var _ = nodeServer;
    using var nodeChannel = GrpcClientDefaults.CreateChannel($"http://127.0.0.1:{nodePort}", GrpcClientDefaults.CreateHandler());
    var nodeClient = new EchoService.EchoServiceClient(nodeChannel);
    rows.Add(("ours → grpc-js bidi, 1 stream, 200 B msgs", $"{await MeasureBidiAsync(nodeClient, payload, 1, duration),12:N0} msg/s"));
    rows.Add(("ours → grpc-js unary, 64 concurrent", $"{await MeasureUnaryAsync(nodeClient, payload, 64, duration),12:N0} calls/s"));
}

var interop = Path.Combine(RepoPaths.Interop, "bench.mjs");
if (File.Exists(interop) && Directory.Exists(Path.Combine(RepoPaths.Interop, "node_modules")))
{
    foreach (var mode in new[] { "bidi", "unary" })
    {
        var output = await RunAsync("node", $"{interop} --target 127.0.0.1:{port} --mode {mode} --seconds {seconds}");
        rows.Add(($"grpc-js → ours {mode}", output.Trim()));
    }
}
else
{
    rows.Add(("grpc-js → ours", "skipped: run npm ci --prefix tests/interop"));
}

if (FindOnPath("h2load") is { } h2load)
{
    // One Length-Prefixed-Message (PROTOCOL-HTTP2): flag 0 (not compressed), 4-byte big-endian length, message.
    var message = new EchoRequest { Payload = payload };
    var frame = new byte[5 + message.CalculateSize()];
    System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), message.CalculateSize());
    message.WriteTo(frame.AsSpan(5));
    var file = Path.GetTempFileName();
    await File.WriteAllBytesAsync(file, frame);
    var output = await RunAsync(h2load, $"-D {seconds} -c 1 -m 64 -d {file} -H content-type:application/grpc -H te:trailers {address}/webhookconnect.testing.v1.EchoService/Echo");
    var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("finished in", StringComparison.Ordinal)) ?? output;
    rows.Add(("h2load → ours unary, 1 conn, 64 streams", line.Trim()));
    File.Delete(file);
}
else
{
    rows.Add(("h2load → ours", "skipped: apt-get install nghttp2-client"));
}

Console.WriteLine();
foreach (var (what, rate) in rows)
{
    Console.WriteLine($"{what,-44} {rate}");
}

await app.StopAsync();

static async Task<double> MeasureBidiAsync(EchoService.EchoServiceClient client, ByteString payload, int streams, TimeSpan duration)
{
    var window = int.Parse(Environment.GetEnvironmentVariable("BENCH_WINDOW") ?? "256", CultureInfo.InvariantCulture);
    var stop = DateTime.UtcNow + duration;
    long total = 0;
    var stopwatch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, streams).Select(async _ =>
    {
        using var call = client.Chat();
        using var credits = new SemaphoreSlim(window);
        var request = new EchoRequest { Payload = payload };
        var writer = Task.Run(async () =>
        {
            while (DateTime.UtcNow < stop)
            {
                await credits.WaitAsync();
                await call.RequestStream.WriteAsync(request);
            }

            await call.RequestStream.CompleteAsync();
        });
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            credits.Release();
            Interlocked.Increment(ref total);
        }

        await writer;
    }));
    return total / stopwatch.Elapsed.TotalSeconds;
}

static async Task<double> MeasureServerStreamingAsync(EchoService.EchoServiceClient client, TimeSpan duration)
{
    using var cts = new CancellationTokenSource(duration);
    long total = 0;
    var stopwatch = Stopwatch.StartNew();
    using var call = client.Repeat(new RepeatRequest { Count = int.MaxValue, PayloadBytes = 200 }, cancellationToken: cts.Token);
    try
    {
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            total++;
        }
    }
    catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled)
    {
    }

    return total / stopwatch.Elapsed.TotalSeconds;
}

static async Task<double> MeasureClientStreamingAsync(EchoService.EchoServiceClient client, ByteString payload, TimeSpan duration, int flushEvery)
{
    var stop = DateTime.UtcNow + duration;
    var stopwatch = Stopwatch.StartNew();
    using var call = client.Collect();
    var request = new EchoRequest { Payload = payload };
    var buffered = new WriteOptions(WriteFlags.BufferHint);
    for (var i = 1; DateTime.UtcNow < stop; i++)
    {
        call.RequestStream.WriteOptions = i % flushEvery == 0 ? null : buffered;
        await call.RequestStream.WriteAsync(request);
    }

    await call.RequestStream.CompleteAsync();
    var response = await call;
    return response.Count / stopwatch.Elapsed.TotalSeconds;
}

static async Task<double> MeasureUnaryAsync(EchoService.EchoServiceClient client, ByteString payload, int concurrency, TimeSpan duration)
{
    var stop = DateTime.UtcNow + duration;
    long total = 0;
    var stopwatch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
    {
        var request = new EchoRequest { Payload = payload };
        while (DateTime.UtcNow < stop)
        {
            await client.EchoAsync(request);
            Interlocked.Increment(ref total);
        }
    }));
    return total / stopwatch.Elapsed.TotalSeconds;
}

static async Task<string> RunAsync(string file, string arguments)
{
    using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
    var stdout = process.StandardOutput.ReadToEndAsync();
    var stderr = process.StandardError.ReadToEndAsync();
    await process.WaitForExitAsync();
    return process.ExitCode == 0 ? await stdout : $"failed ({process.ExitCode}): {await stderr}";
}

static string? FindOnPath(string name) =>
    (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

/// <summary>The benchmark's echo: no observation overhead.</summary>
internal sealed class BenchEcho : EchoService.EchoServiceBase
{
    public override async Task Repeat(RepeatRequest request, IServerStreamWriter<EchoResponse> responseStream, ServerCallContext context)
    {
        var response = new EchoResponse { Payload = ByteString.CopyFrom(new byte[request.PayloadBytes]) };
        for (var i = 0; i < request.Count && !context.CancellationToken.IsCancellationRequested; i++)
        {
            await responseStream.WriteAsync(response);
        }
    }

    public override async Task<CollectResponse> Collect(IAsyncStreamReader<EchoRequest> requestStream, ServerCallContext context)
    {
        var count = 0;
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            count++;
        }

        return new CollectResponse { Count = count };
    }

    public override Task<EchoResponse> Echo(EchoRequest request, ServerCallContext context) =>
        Task.FromResult(new EchoResponse { Payload = request.Payload });

    public override async Task Chat(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoResponse> responseStream, ServerCallContext context)
    {
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            await responseStream.WriteAsync(new EchoResponse { Payload = requestStream.Current.Payload });
        }
    }
}

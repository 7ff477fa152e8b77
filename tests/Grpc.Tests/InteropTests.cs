using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// Conformance against an independent gRPC implementation: @grpc/grpc-js (tests/interop, unchanged) calls a server
/// built with our defaults, and a channel built with our defaults calls a grpc-js server.
/// </summary>
public sealed class InteropTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static readonly string[] AllChecks =
    [
        "unary", "client_streaming", "server_streaming", "bidi", "deadline", "deadline_propagation", "cancellation",
        "error_status", "large_message", "compression", "oversize", "unimplemented", "reflection_v1", "reflection_v1alpha",
        "reflection_library", "health",
    ];

    [Fact]
    public async Task GrpcJsClientPassesEveryCheckAgainstOurServer()
    {
        Prerequisites.RequireNodeInteropPackages();
        await using var server = await GrpcTestServer.StartAsync();

        await using var client = ChildProcess.Start("grpc-js client", "node",
            [Path.Combine(RepoPaths.Interop, "client.mjs"), "--target", $"127.0.0.1:{server.Port}"],
            workingDirectory: RepoPaths.Interop);
        var exitCode = await client.WaitForExitAsync(TimeSpan.FromMinutes(5));

        var results = client.Output.Split('\n')
            .Select(line => line.Trim())
            .Select(line => line.IndexOf('{', StringComparison.Ordinal) is var start and >= 0 ? line[start..] : "")
            .Where(json => json.StartsWith("{\"check\"", StringComparison.Ordinal))
            .Select(json => JsonDocument.Parse(json).RootElement)
            .ToArray();
        var failed = results.Where(r => !r.GetProperty("ok").GetBoolean()).Select(r => $"{r.GetProperty("check")}: {r.GetProperty("detail")}").ToArray();
        Assert.True(failed.Length == 0, "grpc-js checks failed:\n" + string.Join('\n', failed) + "\n--- output ---\n" + client.Output);
        Assert.Equal(AllChecks, results.Select(r => r.GetProperty("check").GetString()));
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task OurClientSpeaksToAGrpcJsServer()
    {
        var (server, port) = await NodeInterop.StartServerAsync(Patience);
        await using var _ = server;
        using var channel = GrpcClientDefaults.CreateChannel($"http://127.0.0.1:{port}", GrpcClientDefaults.CreateHandler());
        var client = new EchoService.EchoServiceClient(channel);

        // Unary with metadata, response headers and trailers.
        using (var call = client.EchoAsync(new EchoRequest { Text = "héllo ✓", Payload = ByteString.CopyFrom(1, 2, 3) }, new Metadata { { "x-custom", "abc" }, { "x-data-bin", new byte[] { 0, 1, 2, 255 } } }))
        {
            var response = await call.ResponseAsync.WaitAsync(Patience);
            Assert.Equal("héllo ✓", response.Text);
            Assert.Equal(new byte[] { 1, 2, 3 }, response.Payload.ToByteArray());
            Assert.Equal("abc", response.RequestMetadata["x-custom"]);
            Assert.Equal("AAEC/w==", response.RequestMetadata["x-data-bin"]);
            Assert.Equal("node", (await call.ResponseHeadersAsync).GetValue("x-echo-server"));
            Assert.Equal("done", call.GetTrailers().GetValue("x-echo-trailer"));
        }

        // Client streaming.
        using (var call = client.Collect())
        {
            foreach (var text in new[] { "a", "b", "c" })
            {
                await call.RequestStream.WriteAsync(new EchoRequest { Text = text, Payload = ByteString.CopyFrom(new byte[10]) });
            }

            await call.RequestStream.CompleteAsync();
            var collected = await call.ResponseAsync.WaitAsync(Patience);
            Assert.Equal(3, collected.Count);
            Assert.Equal(30, collected.TotalPayloadBytes);
        }

        // Server streaming.
        using (var call = client.Repeat(new RepeatRequest { Text = "r", Count = 5 }))
        {
            var texts = await call.ResponseStream.ReadAllAsync().Select(r => r.Text).ToListAsync().AsTask().WaitAsync(Patience);
            Assert.Equal(["r-1", "r-2", "r-3", "r-4", "r-5"], texts);
        }

        // Bidirectional, ping-pong then a burst.
        using (var call = client.Chat())
        {
            for (var i = 1; i <= 5; i++)
            {
                await call.RequestStream.WriteAsync(new EchoRequest { Text = $"m{i}" });
                Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Patience));
                Assert.Equal(i, call.ResponseStream.Current.Sequence);
            }

            for (var i = 6; i <= 100; i++)
            {
                await call.RequestStream.WriteAsync(new EchoRequest { Text = $"m{i}" });
            }

            await call.RequestStream.CompleteAsync();
            var rest = await call.ResponseStream.ReadAllAsync().Select(r => r.Text).ToListAsync().AsTask().WaitAsync(Patience);
            Assert.Equal(Enumerable.Range(6, 95).Select(i => $"m{i}"), rest);
        }

        // Error status with a message that needs percent-encoding.
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { FailWithCode = 5, FailMessage = "channel 'ä/b' 100% missing" }).ResponseAsync.WaitAsync(Patience));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("channel 'ä/b' 100% missing", error.Status.Detail);

        // Deadline: our grpc-timeout reaches the Node server, and a slow call ends with DEADLINE_EXCEEDED.
        var withDeadline = await client.EchoAsync(new EchoRequest { Text = "d" }, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync.WaitAsync(Patience);
        Assert.InRange(withDeadline.DeadlineRemainingMs, 5_000, 10_000);
        var late = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { DelayMs = 10_000 }, deadline: DateTime.UtcNow.AddMilliseconds(300)).ResponseAsync.WaitAsync(Patience));
        Assert.Equal(StatusCode.DeadlineExceeded, late.StatusCode);

        // Cancellation reaches the Node handler.
        var before = await client.GetObservationsAsync(new GetObservationsRequest()).ResponseAsync.WaitAsync(Patience);
        using (var cts = new CancellationTokenSource())
        {
            using var call = client.Repeat(new RepeatRequest { Text = "c", Count = 1000, IntervalMs = 50 }, cancellationToken: cts.Token);
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Patience));
            await cts.CancelAsync();
            var cancelled = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                }
            });
            Assert.Equal(StatusCode.Cancelled, cancelled.StatusCode);
        }

        await Eventually.UntilAsync(
            async () => (await client.GetObservationsAsync(new GetObservationsRequest())).CancelledByClient == before.CancelledByClient + 1,
            Patience,
            "the grpc-js server to count the cancelled call");

        // A 10 MiB message each way.
        var big = EchoServiceImpl.Pattern(10 * 1024 * 1024);
        var echoed = await client.EchoAsync(new EchoRequest { Payload = ByteString.CopyFrom(big) }).ResponseAsync.WaitAsync(Patience);
        Assert.True(big.AsSpan().SequenceEqual(echoed.Payload.Span));

        // A service the Node server does not offer.
        var unimplemented = await Assert.ThrowsAsync<RpcException>(async () =>
            await new global::Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new global::Grpc.Health.V1.HealthCheckRequest()).ResponseAsync.WaitAsync(Patience));
        Assert.Equal(StatusCode.Unimplemented, unimplemented.StatusCode);
    }
}

using System.IO.Compression;
using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Grpc.Client;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Grpc.Tests;

public sealed class CompressionTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task GzipInBothDirectionsCarriesMessagesByteIdentical()
    {
        await using var server = await GrpcTestServer.StartAsync(o => o.ResponseCompressionAlgorithm = "gzip");
        using var channel = server.CreateChannel(new GrpcChannelOptions { SendCompression = "gzip" });
        var client = new EchoService.EchoServiceClient(channel);
        var payload = EchoServiceImpl.Pattern(1024 * 1024);

        var seen = await client.EchoAsync(new EchoRequest { Text = "encoding" });
        var echoed = await client.EchoAsync(new EchoRequest { Payload = ByteString.CopyFrom(payload) });
        using var chat = client.Chat();
        await chat.RequestStream.WriteAsync(new EchoRequest { Text = "streamed", Payload = ByteString.CopyFrom(payload) });
        await chat.RequestStream.CompleteAsync();
        var streamed = await chat.ResponseStream.ReadAllAsync().ToListAsync().AsTask().WaitAsync(Patience);

        Assert.Equal("gzip", seen.Text);
        Assert.True(payload.AsSpan().SequenceEqual(echoed.Payload.Span));
        Assert.True(payload.AsSpan().SequenceEqual(Assert.Single(streamed).Payload.Span));
    }

    [Fact]
    public async Task ServerCompressesResponsesOnlyForClientsThatAcceptGzip()
    {
        await using var server = await GrpcTestServer.StartAsync(o => o.ResponseCompressionAlgorithm = "gzip");
        using var http = RawGrpc.CreateClient();

        foreach (var (accept, expectCompressed) in new[] { ("identity,gzip", true), ("identity", false) })
        {
            using var request = RawGrpc.Request(server.Address, "/webhookconnect.testing.v1.EchoService/Echo", RawGrpc.Frame(new EchoRequest { Text = "zip me", ResponsePayloadBytes = 4096 }));
            request.Headers.TryAddWithoutValidation("grpc-accept-encoding", accept);
            using var response = await http.SendAsync(request).WaitAsync(Patience);
            var body = await response.Content.ReadAsByteArrayAsync();

            Assert.Equal("0", RawGrpc.StatusOf(response));
            Assert.Equal(expectCompressed ? 1 : 0, body[0]);
            Assert.Equal(expectCompressed ? "gzip" : null, response.Headers.TryGetValues("grpc-encoding", out var values) ? values.Single() : null);
            var payload = body[Protocol.GrpcProtocol.FrameHeaderSize..];
            if (expectCompressed)
            {
                using var gzip = new GZipStream(new MemoryStream(payload), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                await gzip.CopyToAsync(plain);
                payload = plain.ToArray();
                Assert.True(body.Length < 4096, $"a compressed 4 KiB pattern took {body.Length} bytes");
            }

            Assert.Equal(EchoServiceImpl.Pattern(4096), EchoResponse.Parser.ParseFrom(payload).Payload.ToByteArray());
        }
    }

    [Fact]
    public async Task GrpcJsReadsOurGzipCompressedResponses()
    {
        // grpc-js advertises gzip, so a server configured to compress answers every check with compressed messages.
        // (grpc-js servers never compress responses, so the other direction is proven by our own server above.)
        Prerequisites.RequireNodeInteropPackages();
        await using var server = await GrpcTestServer.StartAsync(o => o.ResponseCompressionAlgorithm = "gzip");
        string[] checks = ["unary", "server_streaming", "bidi", "large_message", "compression"];

        await using var client = ChildProcess.Start("grpc-js client", "node",
            [Path.Combine(RepoPaths.Interop, "client.mjs"), "--target", $"127.0.0.1:{server.Port}", "--checks", string.Join(',', checks)],
            workingDirectory: RepoPaths.Interop);
        var exitCode = await client.WaitForExitAsync(TimeSpan.FromMinutes(3));

        Assert.True(exitCode == 0, client.Output);
        Assert.Contains("\"summary\":\"5 passed, 0 failed\"", client.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsupportedCompressionIsRefusedWhenTheChannelIsCreated()
    {
        var error = Assert.Throws<ArgumentException>(() => GrpcChannel.ForAddress("http://127.0.0.1:1", new GrpcChannelOptions { SendCompression = "brotli" }));
        Assert.Contains("brotli", error.Message, StringComparison.Ordinal);
    }
}

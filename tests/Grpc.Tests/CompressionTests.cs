using System.IO.Compression;
using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// Our compression settings: gzip-compressed requests are always accepted; responses are never compressed unless
/// the handler asks, even for clients that accept gzip (webhook bodies are sent as the sender chose).
/// </summary>
public sealed class CompressionTests : IAsyncLifetime
{
    private const string EchoPath = "/webhookconnect.testing.v1.EchoService/Echo";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task GzipCompressedRequestsFromOurChannelAreDecompressed()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        // Grpc.Net.Client compresses the request messages of a call that carries this header.
        var gzip = new Metadata { { "grpc-internal-encoding-request", "gzip" } };
        var payload = EchoServiceImpl.Pattern(1024 * 1024);

        var seen = await client.EchoAsync(new EchoRequest { Text = "encoding" }, gzip).ResponseAsync.WaitAsync(Patience);
        var echoed = await client.EchoAsync(new EchoRequest { Payload = ByteString.CopyFrom(payload) }, gzip).ResponseAsync.WaitAsync(Patience);

        Assert.Equal("gzip", seen.Text);
        Assert.True(payload.AsSpan().SequenceEqual(echoed.Payload.Span));
    }

    [Fact]
    public async Task AHandMadeGzipFrameIsDecompressed()
    {
        using var http = RawGrpc.CreateClient();
        var message = new EchoRequest { Text = "zipped", Payload = ByteString.CopyFrom(new byte[1000]) }.ToByteArray();
        using var compressed = new MemoryStream();
        await using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            zip.Write(message);
        }

        using var request = RawGrpc.Request(_server.Address, EchoPath, RawGrpc.Frame(compressed.ToArray(), compressedFlag: true));
        request.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");
        using var response = await http.SendAsync(request).WaitAsync(Patience);
        var body = await response.Content.ReadAsByteArrayAsync().WaitAsync(Patience);

        Assert.Equal("0", RawGrpc.StatusOf(response));
        var echoed = EchoResponse.Parser.ParseFrom(body.AsSpan(RawGrpc.FrameHeaderSize));
        Assert.Equal("zipped", echoed.Text);
        Assert.Equal(1000, echoed.Payload.Length);
    }

    [Fact]
    public async Task ResponsesAreNotCompressedEvenForAClientThatAcceptsGzip()
    {
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, EchoPath, RawGrpc.Frame(new EchoRequest { Text = "compressible", ResponsePayloadBytes = 64 * 1024 }));
        request.Headers.TryAddWithoutValidation("grpc-accept-encoding", "identity,gzip");

        using var response = await http.SendAsync(request).WaitAsync(Patience);
        var body = await response.Content.ReadAsByteArrayAsync().WaitAsync(Patience);

        Assert.Equal("0", RawGrpc.StatusOf(response));
        Assert.False(response.Headers.Contains("grpc-encoding"), "the response announced a grpc-encoding");
        Assert.Equal(0, body[0]);
        Assert.Equal(64 * 1024, EchoResponse.Parser.ParseFrom(body.AsSpan(RawGrpc.FrameHeaderSize)).Payload.Length);
    }
}

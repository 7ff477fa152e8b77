using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Grpc.Client;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Grpc.Tests;

public sealed class ErrorStatusTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData(StatusCode.NotFound, "channel 'ä/b' 100% missing\nsecond line")]
    [InlineData(StatusCode.Unauthenticated, "bad token")]
    [InlineData(StatusCode.InvalidArgument, "")]
    public async Task HandlerStatusAndMessageReachTheClientExactly(StatusCode code, string message)
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { FailWithCode = (int)code, FailMessage = message }));

        Assert.Equal(code, error.StatusCode);
        Assert.Equal(message, error.Status.Detail);
    }

    [Fact]
    public async Task ErrorBeforeAnyMessageIsATrailersOnlyResponse()
    {
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, "/webhookconnect.testing.v1.EchoService/Echo",
            RawGrpc.Frame(new EchoRequest { FailWithCode = 7, FailMessage = "nope 100%" }));

        using var response = await http.SendAsync(request).WaitAsync(Patience);

        // Trailers-Only: status in the HEADERS frame, no DATA, no separate trailers.
        Assert.True(response.Headers.Contains("grpc-status"));
        Assert.Equal("7", response.Headers.GetValues("grpc-status").Single());
        Assert.Equal("nope 100%25", response.Headers.GetValues("grpc-message").Single());
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Empty(response.TrailingHeaders);
    }

    [Fact]
    public async Task ErrorAfterStreamedMessagesArrivesAsTrailers()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        using var call = client.Repeat(new RepeatRequest { Text = "fail-after", Count = 2 });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(StatusCode.Aborted, error.StatusCode);
        Assert.Equal("failed after streaming", error.Status.Detail);
        Assert.Equal(StatusCode.Aborted, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task UnhandledHandlerExceptionIsUnknownWithoutLeakingDetails()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(new EchoRequest { Text = "throw" }));

        Assert.Equal(StatusCode.Unknown, error.StatusCode);
        Assert.Equal("Exception was thrown by handler.", error.Status.Detail);
    }

    [Fact]
    public async Task UnknownMethodAndUnknownServiceAreUnimplemented()
    {
        using var http = RawGrpc.CreateClient();
        foreach (var (path, expected) in new[]
        {
            ("/webhookconnect.testing.v1.EchoService/Nope", "Method 'Nope' is not implemented by service 'webhookconnect.testing.v1.EchoService'."),
            ("/no.such.Service/Method", "Service 'no.such.Service' is not implemented by this server."),
        })
        {
            using var request = RawGrpc.Request(_server.Address, path, RawGrpc.Frame(new EchoRequest()));
            using var response = await http.SendAsync(request).WaitAsync(Patience);
            await response.Content.ReadAsByteArrayAsync();

            Assert.Equal("12", RawGrpc.StatusOf(response));
            Assert.Equal(expected, Protocol.GrpcProtocol.DecodeStatusMessage(RawGrpc.MessageOf(response)));
        }
    }

    [Theory]
    [InlineData("/WebhookConnect.Testing.V1.EchoService/Echo")]
    [InlineData("/webhookconnect.testing.v1.echoservice/echo")]
    public async Task ADifferentlyCasedPathIsUnimplementedNotRoutedToTheMethod(string path)
    {
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, path, RawGrpc.Frame(new EchoRequest { Text = "x" }));

        using var response = await http.SendAsync(request).WaitAsync(Patience);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("12", RawGrpc.StatusOf(response));
        Assert.Empty(body);
    }

    [Fact]
    public async Task MalformedBinaryMetadataIsInvalidArgumentNamingTheKey()
    {
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, "/webhookconnect.testing.v1.EchoService/Echo", RawGrpc.Frame(new EchoRequest { Text = "x" }));
        request.Headers.TryAddWithoutValidation("x-data-bin", "!!!not base64!!!");

        using var response = await http.SendAsync(request).WaitAsync(Patience);
        await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("3", RawGrpc.StatusOf(response));
        Assert.StartsWith("Request metadata 'x-data-bin' is malformed", Protocol.GrpcProtocol.DecodeStatusMessage(RawGrpc.MessageOf(response)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongContentTypeGetsHttp415()
    {
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, "/webhookconnect.testing.v1.EchoService/Echo", RawGrpc.Frame(new EchoRequest()), "application/json");

        using var response = await http.SendAsync(request).WaitAsync(Patience);

        Assert.Equal(System.Net.HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task TruncatedFrameIsInternalAndTheServerKeepsServing()
    {
        using var http = RawGrpc.CreateClient();
        var frame = RawGrpc.Frame(new EchoRequest { Text = "cut short" });
        using var request = RawGrpc.Request(_server.Address, "/webhookconnect.testing.v1.EchoService/Echo", frame[..^3]);

        using var response = await http.SendAsync(request).WaitAsync(Patience);
        await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("13", RawGrpc.StatusOf(response));
        Assert.StartsWith("Incomplete message", RawGrpc.MessageOf(response), StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task GarbageProtobufIsInternal()
    {
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, "/webhookconnect.testing.v1.EchoService/Echo", RawGrpc.Frame([0xFF, 0xFF, 0xFF, 0xFF, 0xFF]));

        using var response = await http.SendAsync(request).WaitAsync(Patience);
        await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("13", RawGrpc.StatusOf(response));
        Assert.StartsWith("Failed to deserialize", Protocol.GrpcProtocol.DecodeStatusMessage(RawGrpc.MessageOf(response)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompressedFlagWithoutEncodingIsInternal()
    {
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, "/webhookconnect.testing.v1.EchoService/Echo", RawGrpc.Frame(new EchoRequest { Text = "x" }, compressedFlag: true));

        using var response = await http.SendAsync(request).WaitAsync(Patience);
        await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("13", RawGrpc.StatusOf(response));
    }

    [Fact]
    public async Task GzipCompressedRequestIsDecompressed()
    {
        using var http = RawGrpc.CreateClient();
        var payload = new EchoRequest { Text = "zipped", Payload = ByteString.CopyFrom(new byte[1000]) }.ToByteArray();
        using var compressed = new MemoryStream();
        await using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(payload);
        }

        using var request = RawGrpc.Request(_server.Address, "/webhookconnect.testing.v1.EchoService/Echo", RawGrpc.Frame(compressed.ToArray(), compressedFlag: true));
        request.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");

        using var response = await http.SendAsync(request).WaitAsync(Patience);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("0", RawGrpc.StatusOf(response));
        var echoed = EchoResponse.Parser.ParseFrom(body[Protocol.GrpcProtocol.FrameHeaderSize..]);
        Assert.Equal("zipped", echoed.Text);
        Assert.Equal(1000, echoed.Payload.Length);
    }

    [Fact]
    public async Task GarbageBytesOnTheGrpcPortDoNotHurtOtherClients()
    {
        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync("127.0.0.1", _server.Port);
            var stream = socket.GetStream();
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes("GARBAGE\r\n\r\nnot http/2 at all \0\x01\x02"));
            await stream.FlushAsync();

            // Kestrel answers a bad preface with GOAWAY or simply closes; either way the connection ends.
            var buffer = new byte[1024];
            using var timeout = new CancellationTokenSource(Patience);
            while (await stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }
        }

        await AssertStillServingAsync();
    }

    [Fact]
    public async Task UnreachableServerIsUnavailable()
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{FreePort.Next()}");
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(new EchoRequest()).ResponseAsync.WaitAsync(Patience));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }

    private async Task AssertStillServingAsync()
    {
        using var channel = _server.CreateChannel();
        var response = await new EchoService.EchoServiceClient(channel).EchoAsync(new EchoRequest { Text = "alive" }).ResponseAsync.WaitAsync(Patience);
        Assert.Equal("alive", response.Text);
    }
}

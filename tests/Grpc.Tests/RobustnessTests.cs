using System.Globalization;
using System.Net.Sockets;
using Grpc.Core;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// Bad input on every gRPC port of a server built with our defaults (two listeners, as the queue-manager has):
/// each bad request gets a status that says what was wrong, a bad connection is closed, and every port keeps
/// serving other clients.
/// </summary>
public sealed class RobustnessTests : IAsyncLifetime
{
    private const string EchoPath = "/webhookconnect.testing.v1.EchoService/Echo";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync(listeners: 2);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("truncated frame", StatusCode.Internal)]
    // Grpc.AspNetCore reports a message that does not parse as the handler's failure, without details.
    [InlineData("garbage protobuf", StatusCode.Unknown)]
    [InlineData("compressed flag without grpc-encoding", StatusCode.Internal)]
    [InlineData("unknown grpc-encoding", StatusCode.Unimplemented)]
    [InlineData("frame header announcing 1 GiB", StatusCode.ResourceExhausted)]
    public async Task ABadMessageGetsAStatusAndEveryPortKeepsServing(string input, StatusCode expected)
    {
        foreach (var port in _server.Ports)
        {
            using var http = RawGrpc.CreateClient();
            using var request = BadRequest(GrpcTestServer.AddressOf(port), input);

            using var response = await http.SendAsync(request).WaitAsync(Patience);
            await response.Content.ReadAsByteArrayAsync().WaitAsync(Patience);

            Assert.Equal(((int)expected).ToString(CultureInfo.InvariantCulture), RawGrpc.StatusOf(response));
            await AssertEveryPortServesAsync();
        }

        // Only the liveness checks reached the handler, never a bad message.
        Assert.Equal(_server.Ports.Count * _server.Ports.Count, _server.Echo.EchoCalls);
    }

    [Theory]
    [InlineData("not HTTP at all")]
    [InlineData("HTTP/1.1 request")]
    [InlineData("preface then a DATA frame on stream 0")]
    public async Task ABadConnectionIsClosedAndEveryPortKeepsServing(string input)
    {
        foreach (var port in _server.Ports)
        {
            using (var socket = new TcpClient())
            {
                await socket.ConnectAsync("127.0.0.1", port);
                var stream = socket.GetStream();
                await stream.WriteAsync(BadBytes(input));

                // The server answers with GOAWAY or an HTTP error, or simply closes; either way the connection ends.
                var buffer = new byte[4096];
                using var timeout = new CancellationTokenSource(Patience);
                while (await stream.ReadAsync(buffer, timeout.Token) > 0)
                {
                }
            }

            await AssertEveryPortServesAsync();
        }
    }

    private static HttpRequestMessage BadRequest(string address, string input)
    {
        var message = RawGrpc.Frame(new EchoRequest { Text = "cut short" });
        var request = input switch
        {
            "truncated frame" => RawGrpc.Request(address, EchoPath, message[..^3]),
            "garbage protobuf" => RawGrpc.Request(address, EchoPath, RawGrpc.Frame([0xFF, 0xFF, 0xFF, 0xFF, 0xFF])),
            "compressed flag without grpc-encoding" => RawGrpc.Request(address, EchoPath, RawGrpc.Frame(new EchoRequest { Text = "x" }, compressedFlag: true)),
            "unknown grpc-encoding" => RawGrpc.Request(address, EchoPath, RawGrpc.Frame(new EchoRequest { Text = "x" }, compressedFlag: true)),
            "frame header announcing 1 GiB" => RawGrpc.Request(address, EchoPath, RawGrpc.Frame([1, 2, 3], announcedLength: 1 << 30)),
            _ => throw new ArgumentOutOfRangeException(nameof(input), input, null),
        };
        if (input == "unknown grpc-encoding")
        {
            request.Headers.TryAddWithoutValidation("grpc-encoding", "lz4-custom");
        }

        return request;
    }

    private static byte[] BadBytes(string input) => input switch
    {
        "not HTTP at all" => "GARBAGE\r\n\r\nnot http/2 at all \0\x01\x02"u8.ToArray(),
        "HTTP/1.1 request" => "POST /webhookconnect.testing.v1.EchoService/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\n\0\0\0\0\0"u8.ToArray(),
        "preface then a DATA frame on stream 0" =>
        [
            .. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8,
            0, 0, 0, RawHttp2.Settings, 0, 0, 0, 0, 0,
            0, 0, 3, RawHttp2.Data, 0, 0, 0, 0, 0, 1, 2, 3,
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(input), input, null),
    };

    private async Task AssertEveryPortServesAsync()
    {
        foreach (var port in _server.Ports)
        {
            using var channel = _server.CreateChannel(port);
            var response = await new EchoService.EchoServiceClient(channel).EchoAsync(new EchoRequest { Text = "alive" }).ResponseAsync.WaitAsync(Patience);
            Assert.Equal("alive", response.Text);
        }
    }
}

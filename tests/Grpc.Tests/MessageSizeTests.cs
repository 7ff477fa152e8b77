using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Grpc.Client;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests;

public sealed class MessageSizeTests : IAsyncLifetime
{
    private const int TenMiB = 10 * 1024 * 1024;
    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task TenMebibyteMessagesTravelBothWaysByteIdentical()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        var payload = EchoServiceImpl.Pattern(TenMiB);

        var echoed = await client.EchoAsync(new EchoRequest { Payload = ByteString.CopyFrom(payload) });
        var generated = await client.EchoAsync(new EchoRequest { ResponsePayloadBytes = TenMiB });

        Assert.True(payload.AsSpan().SequenceEqual(echoed.Payload.Span));
        Assert.True(payload.AsSpan().SequenceEqual(generated.Payload.Span));
    }

    [Fact]
    public async Task OversizeRequestIsRejectedByTheServerWithResourceExhausted()
    {
        // The client allows 64 MiB so that the server's 16 MiB limit is what rejects the message.
        using var channel = _server.CreateChannel(new GrpcChannelOptions { MaxSendMessageSize = 64 * 1024 * 1024 });
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { Payload = ByteString.CopyFrom(new byte[17 * 1024 * 1024]) }));
        var after = await client.EchoAsync(new EchoRequest { Text = "next" });

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("exceeds the maximum configured message size", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("next", after.Text);
    }

    [Fact]
    public async Task OversizeResponseIsRejectedByTheServerBeforeSending()
    {
        using var channel = _server.CreateChannel(new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { ResponsePayloadBytes = 17 * 1024 * 1024 }));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.StartsWith("Sending message of", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientRefusesToReceiveAMessageAboveItsLimit()
    {
        using var channel = _server.CreateChannel(new GrpcChannelOptions { MaxReceiveMessageSize = 1024 });
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(new EchoRequest { ResponsePayloadBytes = 4096 }));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.StartsWith("Received message of", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientRefusesToSendAMessageAboveItsLimitWithoutCallingTheServer()
    {
        using var channel = _server.CreateChannel(new GrpcChannelOptions { MaxSendMessageSize = 1024 });
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(new EchoRequest { Payload = ByteString.CopyFrom(new byte[4096]) }));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Empty(_server.Echo.ConnectionIds);
    }
}

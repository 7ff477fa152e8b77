using Grpc.Core;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests;

/// <summary>Statuses and messages as our server settings shape them.</summary>
public sealed class StatusTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData(StatusCode.NotFound, "channel 'ä/b' 100% missing\nsecond line")]
    [InlineData(StatusCode.Unauthenticated, "bad token")]
    [InlineData(StatusCode.InvalidArgument, "")]
    public async Task AHandlersStatusAndMessageReachTheClientExactly(StatusCode code, string message)
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { FailWithCode = (int)code, FailMessage = message }).ResponseAsync.WaitAsync(Patience));

        Assert.Equal(code, error.StatusCode);
        Assert.Equal(message, error.Status.Detail);
    }

    [Fact]
    public async Task AnUnhandledExceptionIsUnknownWithoutItsDetails()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(new EchoRequest { Text = "throw" }).ResponseAsync.WaitAsync(Patience));

        // EnableDetailedErrors is off: the exception's message stays in the server's log.
        Assert.Equal(StatusCode.Unknown, error.StatusCode);
        Assert.DoesNotContain("secret", error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("boom", error.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/webhookconnect.testing.v1.EchoService/Nope")]
    [InlineData("/no.such.Service/Method")]
    public async Task AnUnknownMethodOrServiceIsUnimplementedNotAPlain404(string path)
    {
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, path, RawGrpc.Frame(new EchoRequest()));

        using var response = await http.SendAsync(request).WaitAsync(Patience);
        await response.Content.ReadAsByteArrayAsync().WaitAsync(Patience);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("12", RawGrpc.StatusOf(response));
    }
}

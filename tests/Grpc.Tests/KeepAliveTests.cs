using Grpc.Core;
using WebhookConnect.Grpc.Client;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests;

public sealed class KeepAliveTests
{
    [Fact]
    public async Task ClientPingsFindAPeerThatStoppedAnsweringAndFailTheCallAsUnavailable()
    {
        await using var silent = SilentHttp2Server.Start();
        using var channel = GrpcChannel.ForAddress(silent.Address, new GrpcChannelOptions
        {
            KeepAlivePingDelay = TimeSpan.FromSeconds(1),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(1),
        });
        var client = new EchoService.EchoServiceClient(channel);

        // No deadline: without keepalive pings this call would wait forever, and WaitAsync would time out.
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { Text = "anyone there?" }).ResponseAsync.WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.True(error.StatusCode == StatusCode.Unavailable, error.Status.ToString());
        Assert.True(silent.PingsReceived >= 1, $"the client sent {silent.PingsReceived} PING frames");
    }
}

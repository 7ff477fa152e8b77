using System.Diagnostics;
using Grpc.Core;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// Client keepalive (GrpcClientDefaults.CreateHandler): PINGs after 30 s without frames, also while no call runs,
/// so a dead peer is found before the next call needs the connection. About 30 s of waiting.
/// </summary>
public sealed class ClientKeepAliveTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(150);

    [Fact]
    public async Task AnIdleConnectionIsPingedEvenWithoutCalls()
    {
        await using var silent = SilentHttp2Server.Start();
        using var channel = GrpcClientDefaults.CreateChannel(silent.Address, GrpcClientDefaults.CreateHandler());
        var client = new EchoService.EchoServiceClient(channel);

        // The only call ends by its deadline; from then on the connection carries no call at all.
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { Text = "anyone there?" }, deadline: DateTime.UtcNow.AddSeconds(2)).ResponseAsync.WaitAsync(Patience));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Equal(0, silent.PingsReceived);

        await Eventually.UntilAsync(() => silent.PingsReceived >= 1, Patience, "a keepalive PING on the idle connection");

        // 30 s after the last frame from the peer (GrpcClientDefaults.KeepAlivePingDelay).
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(25), Patience);
    }
}

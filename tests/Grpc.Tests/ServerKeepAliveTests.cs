using System.Diagnostics;
using WebhookConnect.Grpc.Tests.Support;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// Server keepalive (GrpcServerDefaults): a connection that sends nothing gets a PING after 30 s and is closed when
/// the PING stays unanswered for 20 s, so the leases of a connector behind a dead NAT are released within a minute.
/// Takes about 50 s of waiting; nothing shorter shows the real settings at work.
/// </summary>
public sealed class ServerKeepAliveTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(150);

    [Fact]
    public async Task AnIdlePeerIsPingedAfterTheDelayAndDroppedWhenItDoesNotAnswer()
    {
        await using var server = await GrpcTestServer.StartAsync();
        await using var connection = await RawHttp2.ConnectAsync(server.Port);
        using var deadline = new CancellationTokenSource(Patience);
        var clock = Stopwatch.StartNew();

        TimeSpan? pingedAt = null;
        TimeSpan? closedAt = null;
        while (closedAt is null)
        {
            var frame = await connection.ReadFrameAsync(deadline.Token);
            if (frame is null || frame.Type == RawHttp2.GoAway)
            {
                closedAt = clock.Elapsed;
            }
            else if (frame.Type == RawHttp2.Settings && !frame.IsAck)
            {
                await connection.WriteFrameAsync(RawHttp2.Settings, flags: 0x1, []);
            }
            else if (frame.Type == RawHttp2.Ping && !frame.IsAck)
            {
                pingedAt ??= clock.Elapsed;
            }
        }

        Assert.NotNull(pingedAt);
        // 30 s and 20 s (GrpcServerDefaults), give or take Kestrel's 1 s heartbeat and a loaded machine.
        Assert.InRange(pingedAt.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(50));
        Assert.InRange(closedAt.Value - pingedAt.Value, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(40));
    }
}

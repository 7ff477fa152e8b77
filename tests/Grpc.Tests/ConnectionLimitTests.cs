using Grpc.Core;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// Our HTTP/2 limits: 1 000 streams per connection (Kestrel's default is 100) and larger flow-control windows,
/// and a client that opens another connection instead of queueing calls when one connection is full.
/// </summary>
public sealed class ConnectionLimitTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task FiveHundredConcurrentCallsShareOneConnection()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var channel = server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        // One call first, so that the client knows the server's SETTINGS before the burst (until then it
        // assumes 100 streams per connection).
        await client.EchoAsync(new EchoRequest { Text = "warm-up" }).ResponseAsync.WaitAsync(Patience);

        var calls = Enumerable.Range(0, 500).Select(i => client.EchoAsync(new EchoRequest { Text = "hold" }).ResponseAsync).ToArray();
        await Eventually.UntilAsync(() => server.Echo.ActiveCalls == 500, Patience, $"500 calls in flight together (seen {server.Echo.ActiveCalls})");
        server.Echo.ReleaseHeldCalls();
        await Task.WhenAll(calls).WaitAsync(Patience);

        Assert.Single(server.Echo.ConnectionIds);
    }

    [Fact]
    public async Task CallsBeyondOneConnectionsStreamLimitOpenASecondConnection()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var channel = server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        await client.EchoAsync(new EchoRequest { Text = "warm-up" }).ResponseAsync.WaitAsync(Patience);

        // Our limit is 1 000 streams per connection (GrpcServerDefaults.MaxStreamsPerConnection).
        const int Calls = 1100;
        var calls = Enumerable.Range(0, Calls).Select(i => client.EchoAsync(new EchoRequest { Text = "hold" }).ResponseAsync).ToArray();
        await Eventually.UntilAsync(() => server.Echo.ActiveCalls == Calls, Patience, $"{Calls} calls in flight together (seen {server.Echo.ActiveCalls})");
        server.Echo.ReleaseHeldCalls();
        await Task.WhenAll(calls).WaitAsync(Patience);

        Assert.Equal(2, server.Echo.ConnectionIds.Count);
    }

    [Fact]
    public async Task TheServerAdvertisesOurStreamLimitAndWindowSizes()
    {
        await using var server = await GrpcTestServer.StartAsync();
        await using var connection = await RawHttp2.ConnectAsync(server.Port);
        using var deadline = new CancellationTokenSource(Patience);

        Dictionary<ushort, uint>? settings = null;
        int? connectionWindowIncrement = null;
        while ((settings is null || connectionWindowIncrement is null) && await connection.ReadFrameAsync(deadline.Token) is { } frame)
        {
            if (frame.Type == RawHttp2.Settings && !frame.IsAck)
            {
                settings = frame.SettingsValues();
            }
            else if (frame.Type == RawHttp2.WindowUpdate && frame.StreamId == 0)
            {
                connectionWindowIncrement = frame.WindowIncrement;
            }
        }

        Assert.NotNull(settings);
        Assert.Equal(1000u, settings[RawHttp2.SettingsMaxConcurrentStreams]);
        Assert.Equal((uint)GrpcServerDefaults.InitialStreamWindowSize, settings[RawHttp2.SettingsInitialWindowSize]);
        // Every connection starts with a 65 535-byte window (RFC 9113 §6.9.2); the server widens it at once.
        Assert.Equal(GrpcServerDefaults.InitialConnectionWindowSize - 65_535, connectionWindowIncrement);
    }
}

using Grpc.Core;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Grpc.Tests;

/// <summary>Deadlines and cancellation between our channel and our server: the handler sees both and stops.</summary>
public sealed class DeadlineAndCancellationTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task TheHandlerSeesTheCallersDeadline()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var response = await client.EchoAsync(new EchoRequest { Text = "d" }, deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync.WaitAsync(Patience);

        Assert.InRange(response.DeadlineRemainingMs, 1, 30_000);
    }

    [Fact]
    public async Task ASlowHandlerEndsWithDeadlineExceededAndIsCancelled()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { DelayMs = 120_000 }, deadline: DateTime.UtcNow.AddMilliseconds(500)).ResponseAsync.WaitAsync(Patience));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        await Eventually.UntilAsync(() => _server.Echo.DeadlineExceededCount + _server.Echo.CancelledByClient == 1, Patience, "the handler to observe its cancellation");
    }

    [Fact]
    public async Task TheServerEndsAnOverdueCallOnItsOwn()
    {
        // A raw request carries grpc-timeout but has no client-side timer: the status must come from the server.
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, "/webhookconnect.testing.v1.EchoService/Echo", RawGrpc.Frame(new EchoRequest { DelayMs = 120_000 }));
        request.Headers.TryAddWithoutValidation("grpc-timeout", "500m");

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Patience);
        var body = await response.Content.ReadAsByteArrayAsync().WaitAsync(Patience);

        Assert.Empty(body);
        Assert.Equal(((int)StatusCode.DeadlineExceeded).ToString(System.Globalization.CultureInfo.InvariantCulture), RawGrpc.StatusOf(response));
        await Eventually.UntilAsync(() => _server.Echo.DeadlineExceededCount == 1, Patience, "the handler to observe the deadline");
    }

    [Fact]
    public async Task ClientCancellationReachesTheHandler()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        using var cts = new CancellationTokenSource();

        using var call = client.Repeat(new RepeatRequest { Text = "c", Count = 10_000, IntervalMs = 50 }, cancellationToken: cts.Token);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Patience));
        await cts.CancelAsync();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Patience))
            {
            }
        });

        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        await Eventually.UntilAsync(() => _server.Echo.CancelledByClient == 1, Patience, "the handler to see the client's cancellation");
    }
}

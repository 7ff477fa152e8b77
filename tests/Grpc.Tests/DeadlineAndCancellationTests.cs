using Grpc.Core;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Grpc.Tests;

public sealed class DeadlineAndCancellationTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ServerSeesTheClientsDeadline()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var response = await client.EchoAsync(new EchoRequest { Text = "d" }, deadline: DateTime.UtcNow.AddSeconds(30));

        Assert.InRange(response.DeadlineRemainingMs, 15_000, 30_000);
    }

    [Fact]
    public async Task SlowHandlerEndsWithDeadlineExceededAndTheHandlerIsCancelled()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { DelayMs = 60_000 }, deadline: DateTime.UtcNow.AddMilliseconds(300)));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        await Eventually.UntilAsync(() => _server.Echo.DeadlineExceededCount + _server.Echo.CancelledByClient == 1, Patience, "the handler to observe its cancellation");
    }

    [Fact]
    public async Task ServerEndsAnOverdueCallWithDeadlineExceededOnItsOwn()
    {
        // A raw HTTP/2 request carries grpc-timeout but has no client-side timer, so the status must come from the server.
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, "/webhookconnect.testing.v1.EchoService/Echo", RawGrpc.Frame(new EchoRequest { DelayMs = 60_000 }));
        request.Headers.TryAddWithoutValidation("grpc-timeout", "300m");

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Patience);
        var body = await response.Content.ReadAsByteArrayAsync().WaitAsync(Patience);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(body);
        Assert.Equal("4", RawGrpc.StatusOf(response));
        await Eventually.UntilAsync(() => _server.Echo.DeadlineExceededCount == 1, Patience, "the handler to observe the deadline");
    }

    [Fact]
    public async Task ExpiredDeadlineFailsWithoutReachingTheServer()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { Text = "late" }, deadline: DateTime.UtcNow.AddSeconds(-1)));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Empty(_server.Echo.ConnectionIds);
    }

    [Fact]
    public async Task ClientCancellationResetsTheStreamAndTheServerHandlerSeesIt()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        using var cts = new CancellationTokenSource();

        using var call = client.Repeat(new RepeatRequest { Text = "c", Count = 1000, IntervalMs = 50 }, cancellationToken: cts.Token);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        await cts.CancelAsync();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
            }
        });
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        await Eventually.UntilAsync(() => _server.Echo.CancelledByClient == 1, Patience, "the server handler to see the client's cancellation");
    }

    [Fact]
    public async Task DisposingAnUnfinishedBidiCallCancelsItOnTheServer()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var call = client.Chat();
        await call.RequestStream.WriteAsync(new EchoRequest { Text = "one" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        call.Dispose();

        Assert.Equal(StatusCode.Cancelled, call.GetStatus().StatusCode);
        await Eventually.UntilAsync(() => _server.Echo.CancelledByClient == 1, Patience, "the server handler to see the disposal");
    }

    [Fact]
    public async Task ServerResetOfAStreamReachesTheClientAsCancelledAndTheConnectionKeepsServing()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(new EchoRequest { Text = "reset" }));
        var after = await client.EchoAsync(new EchoRequest { Text = "still here" });

        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.Equal("still here", after.Text);
    }
}

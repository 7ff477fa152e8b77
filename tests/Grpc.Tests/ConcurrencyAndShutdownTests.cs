using Grpc.Core;
using Grpc.Health.V1;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace WebhookConnect.Grpc.Tests;

public sealed class ConcurrencyAndShutdownTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ThousandConcurrentCallsShareOneConnection()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var channel = server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        // Each call waits 1 s in its handler, so they overlap on the server.
        var calls = Enumerable.Range(0, 1000)
            .Select(i => client.EchoAsync(new EchoRequest { Text = $"c{i}", DelayMs = 1000 }).ResponseAsync)
            .ToArray();
        var responses = await Task.WhenAll(calls).WaitAsync(Patience);

        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"c{i}"), responses.Select(r => r.Text));
        Assert.Single(server.Echo.ConnectionIds);
        // More than Kestrel's default of 100 streams per connection were open at once.
        Assert.True(server.Echo.MaxConcurrentCalls > 100, $"at most {server.Echo.MaxConcurrentCalls} calls were in flight together");
    }

    [Fact]
    public async Task ManyConcurrentBidiStreamsOnOneChannelStayIndependent()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var channel = server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        async Task<int> RunStream(int id)
        {
            using var call = client.Chat();
            for (var i = 1; i <= 20; i++)
            {
                await call.RequestStream.WriteAsync(new EchoRequest { Text = $"{id}:{i}" });
                Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
                Assert.Equal($"{id}:{i}", call.ResponseStream.Current.Text);
            }

            await call.RequestStream.CompleteAsync();
            Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
            return id;
        }

        var ids = await Task.WhenAll(Enumerable.Range(0, 200).Select(RunStream)).WaitAsync(Patience);

        Assert.Equal(Enumerable.Range(0, 200), ids);
    }

    [Fact]
    public async Task GracefulShutdownFinishesInFlightCallsAndReportsNotServing()
    {
        var server = await GrpcTestServer.StartAsync();
        using var channel = server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        var health = new Health.HealthClient(channel);

        using var watch = health.Watch(new HealthCheckRequest());
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);

        var inFlight = client.EchoAsync(new EchoRequest { Text = "finishing", DelayMs = 1500 }).ResponseAsync;
        await WebhookConnect.TestKit.Eventually.UntilAsync(() => server.Echo.ConnectionIds.Count == 1, Patience, "the in-flight call to reach the handler");
        var stopping = server.StopAsync();

        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Patience));
        Assert.Equal(ServingStatus.NotServing, watch.ResponseStream.Current.Status);
        Assert.Equal("finishing", (await inFlight.WaitAsync(Patience)).Text);
        await stopping.WaitAsync(Patience);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(new EchoRequest { Text = "too late" }).ResponseAsync.WaitAsync(Patience));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        await server.DisposeAsync();
    }
}

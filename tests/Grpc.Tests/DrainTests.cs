using Grpc.Core;
using Grpc.Health.V1;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// What SIGTERM does to a server built with our defaults (the console lifetime turns the signal into
/// <c>StopApplication</c>, and the host then stops): health turns NOT_SERVING at once (Check and Watch), calls in
/// flight finish, and new calls find no server.
/// </summary>
public sealed class DrainTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task OnStopHealthTurnsNotServingAndCallsInFlightFinish()
    {
        var server = await GrpcTestServer.StartAsync();
        await using var _ = server;
        using var channel = server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        var health = new Health.HealthClient(channel);
        using var watch = health.Watch(new HealthCheckRequest());
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Patience));
        Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);

        var inFlight = client.EchoAsync(new EchoRequest { Text = "hold" }).ResponseAsync;
        await Eventually.UntilAsync(() => server.Echo.ActiveCalls == 1, Patience, "the call to reach its handler");
        server.SignalStop();
        // Between the signal and the host's stop (our services' own drains run here), Check already says no.
        var duringDrain = await health.CheckAsync(new HealthCheckRequest()).ResponseAsync.WaitAsync(Patience);
        var stopped = server.WaitForShutdownAsync();

        var statuses = new List<ServingStatus>();
        using (var deadline = new CancellationTokenSource(Patience))
        {
            while (!statuses.Contains(ServingStatus.NotServing) && await watch.ResponseStream.MoveNext(deadline.Token))
            {
                statuses.Add(watch.ResponseStream.Current.Status);
            }
        }

        Assert.False(inFlight.IsCompleted, "the call in flight ended before it was allowed to finish");
        server.Echo.ReleaseHeldCalls();
        var finished = await inFlight.WaitAsync(Patience);
        await stopped.WaitAsync(Patience);
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(new EchoRequest { Text = "too late" }).ResponseAsync.WaitAsync(Patience));

        Assert.Equal(ServingStatus.NotServing, duringDrain.Status);
        Assert.Contains(ServingStatus.NotServing, statuses);
        Assert.Equal("hold", finished.Text);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
    }
}

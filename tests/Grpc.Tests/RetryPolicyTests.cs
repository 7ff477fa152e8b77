using Grpc.Core;
using Grpc.Net.Client;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// <see cref="GrpcClientDefaults.RetryUnavailable"/> as our idempotent calls (Publish) use it: UNAVAILABLE is tried
/// again, up to 4 attempts in all; other statuses are answers and are not retried.
/// </summary>
public sealed class RetryPolicyTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task UnavailableIsTriedFourTimesInAll()
    {
        using var channel = RetryingChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { FailWithCode = (int)StatusCode.Unavailable, FailMessage = "replica going away" }).ResponseAsync.WaitAsync(Patience));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(4, _server.Echo.EchoCalls);
    }

    [Theory]
    [InlineData(StatusCode.ResourceExhausted)]
    [InlineData(StatusCode.InvalidArgument)]
    [InlineData(StatusCode.Internal)]
    public async Task OtherStatusesAreNotRetried(StatusCode code)
    {
        using var channel = RetryingChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { FailWithCode = (int)code, FailMessage = "an answer" }).ResponseAsync.WaitAsync(Patience));

        Assert.Equal(code, error.StatusCode);
        Assert.Equal(1, _server.Echo.EchoCalls);
    }

    private GrpcChannel RetryingChannel() => GrpcClientDefaults.CreateChannel(
        _server.Address, GrpcClientDefaults.CreateHandler(), tls: false, GrpcClientDefaults.RetryUnavailable(GrpcTestServer.EchoServiceName, "Echo"));
}

using Grpc.Core;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Connector.Protocols;
using WebhookConnect.Connector.Streams;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests;

/// <summary>
/// <c>auto</c>'s test for "HTTP/2 does not get through" (SPEC §16) against real sockets: the connector's own gRPC
/// channel dials an HTTP/1.1-only proxy, a port nobody listens on, and the default HTTP/1.1 address derivation.
/// </summary>
public sealed class ProtocolSelectionTests
{
    private static async Task<RpcException> ConnectFailureAsync(int port)
    {
        using var channel = QueueManagerChannelFactory.Create(new QueueManagerConnectionOptions { Address = $"http://127.0.0.1:{port}", Insecure = true });
        var client = new ConnectService.ConnectServiceClient(channel);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = client.Connect(cancellationToken: deadline.Token);
        return await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await call.RequestStream.WriteAsync(new ConnectRequest { Subscribe = new Subscribe { Channel = "orders" } });
            await call.ResponseStream.MoveNext(CancellationToken.None);
        });
    }

    [Fact]
    public async Task AnHttp1OnlyProxysAnswerToTheGrpcHandshakeCountsAsHttp2Blocked()
    {
        await using var proxy = Http1OnlyProxy.Start(FreePort.Next());

        var failure = await ConnectFailureAsync(proxy.Port);

        Assert.True(Http2Blocked.Test(failure, out var reason), $"not recognised: {failure.Status} {(failure.Status.DebugException as HttpRequestException)?.HttpRequestError} inner {failure.Status.DebugException?.InnerException}");
        Assert.NotEmpty(reason);
        Assert.True(proxy.RefusedHttp2 >= 1, "the proxy saw no HTTP/2 preface");
    }

    [Fact]
    public async Task ARefusedConnectionDoesNotCountAsHttp2Blocked()
    {
        var failure = await ConnectFailureAsync(FreePort.Next());

        Assert.Equal(StatusCode.Unavailable, failure.StatusCode);
        Assert.False(Http2Blocked.Test(failure, out var reason), "a refused connection taken for a blocked HTTP/2: " + reason);
    }

    [Theory]
    [InlineData("qm.example:5001", false, "https://qm.example:5003/")]
    [InlineData("http://127.0.0.1:7001", true, "http://127.0.0.1:5003/")]
    [InlineData("https://qm.example:443", false, "https://qm.example:5003/")]
    [InlineData("dns:///queue-manager-headless:5001", true, "http://queue-manager-headless:5003/")]
    [InlineData("static:///10.0.0.5:5001,10.0.0.6:5001", false, "https://10.0.0.5:5003/")]
    public void TheHttp1AddressDefaultsToTheGrpcHostOnPort5003(string address, bool insecure, string expected)
    {
        var options = new QueueManagerConnectionOptions { Address = address, Insecure = insecure };

        Assert.Equal(new Uri(expected), options.HttpUri);
    }

    [Theory]
    [InlineData("qm-http:8443", false, "https://qm-http:8443/")]
    [InlineData("http://127.0.0.1:7003", true, "http://127.0.0.1:7003/")]
    public void AnExplicitHttp1AddressIsUsedAsGiven(string httpAddress, bool insecure, string expected)
    {
        var options = new QueueManagerConnectionOptions { Address = "qm:5001", HttpAddress = httpAddress, Insecure = insecure };

        Assert.Equal(new Uri(expected), options.HttpUri);
    }
}

using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.Testing.V1;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;
using V1 = Grpc.Reflection.V1;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// <see cref="ListenerScope"/>: a server with a public and an internal port (as the queue-manager has) answers each
/// service only on its own port, by the socket the connection arrived on, whatever <c>:authority</c> the client
/// names. Health is on both ports, reflection only on the internal one.
/// </summary>
public sealed class ListenerScopeTests : IAsyncLifetime
{
    private const string EchoPath = "/webhookconnect.testing.v1.EchoService/Echo";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private GrpcTestServer _server = null!;

    private int PublicPort => _server.Ports[0];

    private int InternalPort => _server.Ports[1];

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync(
        map: (app, ports) =>
        {
            app.UseListenerScope();
            app.MapGrpcService<EchoServiceImpl>().OnlyOnPort(ports[1]);
            app.MapGrpcStandardServices(reflectionPort: ports[1]);
        },
        listeners: 2);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AServiceBoundToTheInternalPortIsUnimplementedOnThePublicPort()
    {
        using var internalChannel = _server.CreateChannel(InternalPort);
        using var publicChannel = _server.CreateChannel(PublicPort);

        var answered = await new EchoService.EchoServiceClient(internalChannel).EchoAsync(new EchoRequest { Text = "inside" }).ResponseAsync.WaitAsync(Patience);
        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await new EchoService.EchoServiceClient(publicChannel).EchoAsync(new EchoRequest { Text = "outside" }).ResponseAsync.WaitAsync(Patience));

        Assert.Equal("inside", answered.Text);
        Assert.Equal(StatusCode.Unimplemented, refused.StatusCode);
        Assert.Equal(1, _server.Echo.EchoCalls);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("queue-manager.internal")]
    public async Task AnAuthorityNamingTheInternalPortDoesNotOpenItOnThePublicPort(string host)
    {
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(GrpcTestServer.AddressOf(PublicPort), EchoPath, RawGrpc.Frame(new EchoRequest { Text = "sneaky" }));
        // HTTP/2 carries the Host header as :authority.
        request.Headers.Host = $"{host}:{InternalPort}";

        using var response = await http.SendAsync(request).WaitAsync(Patience);
        await response.Content.ReadAsByteArrayAsync().WaitAsync(Patience);

        Assert.Equal("12", RawGrpc.StatusOf(response));
        Assert.Equal(0, _server.Echo.EchoCalls);
    }

    [Fact]
    public async Task HealthAnswersOnBothPortsAndReflectionOnlyOnTheInternalOne()
    {
        using var internalChannel = _server.CreateChannel(InternalPort);
        using var publicChannel = _server.CreateChannel(PublicPort);

        var publicHealth = await new Health.HealthClient(publicChannel).CheckAsync(new HealthCheckRequest()).ResponseAsync.WaitAsync(Patience);
        var internalHealth = await new Health.HealthClient(internalChannel).CheckAsync(new HealthCheckRequest()).ResponseAsync.WaitAsync(Patience);
        var internalServices = await ListServicesAsync(internalChannel);
        var publicReflection = await Assert.ThrowsAsync<RpcException>(() => ListServicesAsync(publicChannel));

        Assert.Equal(ServingStatus.Serving, publicHealth.Status);
        Assert.Equal(ServingStatus.Serving, internalHealth.Status);
        Assert.Contains(GrpcTestServer.EchoServiceName, internalServices);
        Assert.Equal(StatusCode.Unimplemented, publicReflection.StatusCode);
    }

    private static async Task<List<string>> ListServicesAsync(GrpcChannel channel)
    {
        using var call = new V1.ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        try
        {
            await call.RequestStream.WriteAsync(new V1.ServerReflectionRequest { ListServices = "" }).WaitAsync(Patience);
            await call.RequestStream.CompleteAsync().WaitAsync(Patience);
        }
        catch (RpcException)
        {
            // A server that answers at once (UNIMPLEMENTED on the public port) can end the call while the request is
            // still being written; the write then fails with CANCELLED. The call's own status is read below.
        }

        var responses = await call.ResponseStream.ReadAllAsync().ToListAsync().AsTask().WaitAsync(Patience);
        return responses.Single().ListServicesResponse.Service.Select(s => s.Name).ToList();
    }
}

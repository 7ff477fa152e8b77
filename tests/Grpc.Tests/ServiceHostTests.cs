using System.Net;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using WebhookConnect.Grpc.Client;
using WebhookConnect.Grpc.Server;
using WebhookConnect.Grpc.StandardServices;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.ServiceDefaults;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// A host put together the way every service will be: service defaults (management port) plus a gRPC port,
/// health and reflection. Both listeners serve side by side, and gRPC traffic shows up in /metrics.
/// </summary>
public sealed class ServiceHostTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task GrpcPortAndManagementPortServeSideBySide()
    {
        var grpcPort = FreePort.Next();
        var managementPort = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["Management:Host"] = "127.0.0.1";
        builder.Configuration["Management:Port"] = managementPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.AddServiceDefaults(new ServiceDefaultsSettings("test-service", 9099));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenGrpc(IPAddress.Loopback, grpcPort));
        builder.Services.AddGrpcServer();
        builder.Services.AddGrpcHealth();
        builder.Services.AddGrpcReflection();
        builder.Services.AddSingleton<EchoServiceImpl>();
        await using var app = builder.Build();
        app.MapServiceDefaults();
        app.MapGrpcService<EchoServiceImpl>();
        app.MapGrpcHealthService();
        app.MapGrpcReflectionService();
        await app.StartAsync();

        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var echo = await new EchoService.EchoServiceClient(channel).EchoAsync(new EchoRequest { Text = "hi" }).ResponseAsync.WaitAsync(Patience);
        var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest()).ResponseAsync.WaitAsync(Patience);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}") };
        using var healthz = await http.GetAsync(new Uri("/healthz", UriKind.Relative)).WaitAsync(Patience);

        Assert.Equal("hi", echo.Text);
        Assert.Equal(ServingStatus.Serving, health.Status);
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        // Kestrel's request metric carries the gRPC route, so every method's rate and latency is on /metrics.
        // The metric is recorded as the request completes on the server, which may be just after the client has
        // its answer, hence the wait.
        await Eventually.UntilAsync(
            async () => (await http.GetStringAsync(new Uri("/metrics", UriKind.Relative))).Contains("http_route=\"/webhookconnect.testing.v1.EchoService/Echo\"", StringComparison.Ordinal),
            Patience,
            "the Echo route to appear on /metrics");
        await app.StopAsync();
    }
}

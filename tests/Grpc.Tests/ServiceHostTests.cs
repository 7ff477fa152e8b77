using System.Globalization;
using System.Net;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.ServiceDefaults;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// A host put together the way every service is: service defaults (management port) plus a gRPC port with our gRPC
/// defaults. Both listeners serve side by side, gRPC health and <c>/readyz</c> agree, and gRPC traffic shows up in
/// /metrics.
/// </summary>
public sealed class ServiceHostTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task GrpcPortAndManagementPortServeSideBySideAndAgreeOnReadiness()
    {
        var grpcPort = FreePort.Next();
        var managementPort = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["Management:Host"] = "127.0.0.1";
        builder.Configuration["Management:Port"] = managementPort.ToString(CultureInfo.InvariantCulture);
        builder.AddServiceDefaults(new ServiceDefaultsSettings("test-service", 9099));
        builder.AddGrpcServerDefaults(GrpcTestServer.EchoServiceName);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenGrpc(IPAddress.Loopback, grpcPort));
        builder.Services.AddSingleton<EchoServiceImpl>();
        builder.Services.AddSingleton<ReadinessSwitch>();
        builder.Services.AddHealthChecks().AddCheck<ReadinessSwitch>("test-dependency", tags: [HealthCheckTags.Ready]);
        await using var app = builder.Build();
        app.MapServiceDefaults();
        app.MapGrpcService<EchoServiceImpl>();
        app.MapGrpcStandardServices();
        await app.StartAsync();
        var readiness = app.Services.GetRequiredService<ReadinessSwitch>();

        using var channel = GrpcClientDefaults.CreateChannel($"http://127.0.0.1:{grpcPort}", GrpcClientDefaults.CreateHandler());
        var health = new Health.HealthClient(channel);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}") };
        var echo = await new EchoService.EchoServiceClient(channel).EchoAsync(new EchoRequest { Text = "hi" }).ResponseAsync.WaitAsync(Patience);
        var ready = await health.CheckAsync(new HealthCheckRequest { Service = GrpcTestServer.EchoServiceName }).ResponseAsync.WaitAsync(Patience);
        using var readyz = await http.GetAsync(new Uri("/readyz", UriKind.Relative)).WaitAsync(Patience);
        readiness.Ready = false;
        var notReady = await health.CheckAsync(new HealthCheckRequest { Service = GrpcTestServer.EchoServiceName }).ResponseAsync.WaitAsync(Patience);
        using var notReadyz = await http.GetAsync(new Uri("/readyz", UriKind.Relative)).WaitAsync(Patience);

        Assert.Equal("hi", echo.Text);
        Assert.Equal(ServingStatus.Serving, ready.Status);
        Assert.Equal(HttpStatusCode.OK, readyz.StatusCode);
        Assert.Equal(ServingStatus.NotServing, notReady.Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReadyz.StatusCode);
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

using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using WebhookConnect.ServiceDefaults.Tests.Support;

using WebhookConnect.TestKit;

namespace WebhookConnect.ServiceDefaults.Tests;

public sealed class ManagementEndpointTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HealthzAnswersHealthyOverHttp11()
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.Management.GetAsync("/healthz", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task ReadyzIsOkWhenEveryReadyCheckPasses()
    {
        await using var app = await TestApp.StartAsync(configureBuilder: builder => builder.Services.AddHealthChecks()
            .AddCheck("redis", () => HealthCheckResult.Healthy(), [HealthCheckTags.Ready]));

        using var response = await app.Management.GetAsync("/readyz", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task ReadyzIs503NamingEachFailingCheckWhileHealthzStaysHealthy()
    {
        await using var app = await TestApp.StartAsync(configureBuilder: builder => builder.Services.AddHealthChecks()
            .AddCheck("redis", () => HealthCheckResult.Unhealthy("Redis is unreachable"), [HealthCheckTags.Ready])
            .AddCheck("spool", () => HealthCheckResult.Degraded("Spool is 95% full"), [HealthCheckTags.Ready])
            .AddCheck("queue", () => HealthCheckResult.Healthy("fine"), [HealthCheckTags.Ready])
            .AddCheck("untagged", () => HealthCheckResult.Unhealthy("runs on no endpoint")));

        using var ready = await app.Management.GetAsync("/readyz", Ct);
        using var live = await app.Management.GetAsync("/healthz", Ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(
            "Unhealthy\nredis: Unhealthy: Redis is unreachable\nspool: Degraded: Spool is 95% full\n",
            await ready.Content.ReadAsStringAsync(Ct));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task HealthzRunsLiveChecks()
    {
        await using var app = await TestApp.StartAsync(configureBuilder: builder => builder.Services.AddHealthChecks()
            .AddCheck("event-loop", () => HealthCheckResult.Unhealthy("stalled for 30 s"), [HealthCheckTags.Live]));

        using var response = await app.Management.GetAsync("/healthz", Ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("Unhealthy\nevent-loop: Unhealthy: stalled for 30 s\n", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task ManagementEndpointsAreOnlyOnTheManagementPortWhileTheTrafficPortKeepsWorking()
    {
        var trafficPort = FreePort.Next();
        await using var app = await TestApp.StartAsync(
            configureBuilder: builder => builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, trafficPort)),
            configureApp: web => web.MapGet("/work", () => "worked"));
        using var traffic = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{trafficPort}") };

        Assert.Equal("worked", await traffic.GetStringAsync("/work", Ct));
        foreach (var path in new[] { "/healthz", "/readyz", "/metrics" })
        {
            using var onTraffic = await traffic.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.NotFound, onTraffic.StatusCode);

            using var onManagement = await app.Management.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.OK, onManagement.StatusCode);
        }
    }

    [Fact]
    public async Task HostHeaderNamingTheManagementPortDoesNotExposeItOnTheTrafficPort()
    {
        var trafficPort = FreePort.Next();
        await using var app = await TestApp.StartAsync(
            configureBuilder: builder => builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, trafficPort)));
        using var traffic = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{trafficPort}/metrics");
        request.Headers.Host = $"127.0.0.1:{app.ManagementPort}";

        using var response = await traffic.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task MetricsAnswersGetOnly()
    {
        await using var app = await TestApp.StartAsync();

        using var post = await app.Management.PostAsync("/metrics", new StringContent(""), Ct);
        using var get = await app.Management.GetAsync("/metrics", Ct);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
    }

    [Fact]
    public async Task ManagementPortDefaultsToTheServiceSetting()
    {
        var port = FreePort.Next();
        await using var app = await TestApp.StartAsync(
            new Dictionary<string, string?> { ["Management:Port"] = null },
            settings: new ServiceDefaultsSettings("test-service", port));

        using var response = await app.Management.GetAsync("/healthz", Ct);

        Assert.Equal(port, app.ManagementPort);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

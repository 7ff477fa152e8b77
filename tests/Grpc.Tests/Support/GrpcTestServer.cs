using System.Net;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using WebhookConnect.ServiceDefaults;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.Testing.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Grpc.Tests.Support;

/// <summary>
/// A real Kestrel server on 127.0.0.1 put together as our services are: <c>AddGrpcServerDefaults</c> (health
/// reports the echo service by name), one or more <c>ListenGrpc</c> ports, <c>MapGrpcStandardServices</c>, and the
/// echo service. A readiness check the test can fail stands in for a service's Redis check.
/// </summary>
public sealed class GrpcTestServer : IAsyncDisposable
{
    public static readonly string EchoServiceName = EchoService.Descriptor.FullName;

    private readonly WebApplication _app;

    private GrpcTestServer(WebApplication app, IReadOnlyList<int> ports)
    {
        _app = app;
        Ports = ports;
        Echo = app.Services.GetRequiredService<EchoServiceImpl>();
        Readiness = app.Services.GetRequiredService<ReadinessSwitch>();
    }

    /// <summary>The gRPC ports, in the order they were asked for.</summary>
    public IReadOnlyList<int> Ports { get; }

    public int Port => Ports[0];

    public string Address => AddressOf(Port);

    public EchoServiceImpl Echo { get; }

    public ReadinessSwitch Readiness { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Starts the server. <paramref name="configure"/> may add to the builder after our defaults;
    /// <paramref name="map"/> replaces the default mapping (echo + standard services on every port) and receives
    /// the ports.
    /// </summary>
    public static async Task<GrpcTestServer> StartAsync(
        Action<WebApplicationBuilder>? configure = null, Action<WebApplication, IReadOnlyList<int>>? map = null, int listeners = 1)
    {
        var ports = Enumerable.Range(0, listeners).Select(_ => FreePort.Next()).ToArray();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.AddGrpcServerDefaults(EchoServiceName);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var port in ports)
            {
                kestrel.ListenGrpc(IPAddress.Loopback, port);
            }
        });
        builder.Services.AddSingleton<EchoServiceImpl>();
        builder.Services.AddSingleton<ReadinessSwitch>();
        builder.Services.AddHealthChecks().AddCheck<ReadinessSwitch>("test-dependency", tags: [HealthCheckTags.Ready]);
        configure?.Invoke(builder);
        var app = builder.Build();
        if (map is null)
        {
            app.MapGrpcService<EchoServiceImpl>();
            app.MapGrpcStandardServices();
        }
        else
        {
            map(app, ports);
        }

        await app.StartAsync();
        return new GrpcTestServer(app, ports);
    }

    public static string AddressOf(int port) => $"http://127.0.0.1:{port}";

    /// <summary>A channel built as our services build theirs (<see cref="GrpcClientDefaults.CreateChannel"/>).</summary>
    public GrpcChannel CreateChannel(int? port = null) =>
        GrpcClientDefaults.CreateChannel(AddressOf(port ?? Port), GrpcClientDefaults.CreateHandler());

    /// <summary>What SIGTERM does to a service: the console lifetime asks the host to stop.</summary>
    public void SignalStop() => _app.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

    /// <summary>Completes when the host has stopped (after <see cref="SignalStop"/>).</summary>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A readiness check that a test turns off and on.</summary>
public sealed class ReadinessSwitch : IHealthCheck
{
    private volatile bool _ready = true;

    public bool Ready
    {
        get => _ready;
        set => _ready = value;
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_ready ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("the test dependency is down"));
}

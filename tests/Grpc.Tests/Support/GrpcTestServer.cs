using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebhookConnect.Grpc.Client;
using WebhookConnect.Grpc.Server;
using WebhookConnect.Grpc.StandardServices;
using WebhookConnect.TestKit;

namespace WebhookConnect.Grpc.Tests.Support;

/// <summary>A real Kestrel server on 127.0.0.1 with the echo service, health and reflection, over h2c.</summary>
public sealed class GrpcTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GrpcTestServer(WebApplication app, int port, EchoServiceImpl echo)
    {
        _app = app;
        Port = port;
        Echo = echo;
        Address = $"http://127.0.0.1:{port}";
    }

    public int Port { get; }

    public string Address { get; }

    public EchoServiceImpl Echo { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<GrpcTestServer> StartAsync(Action<GrpcServerOptions>? configure = null, Action<WebApplication>? map = null)
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenGrpc(IPAddress.Loopback, port));
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.AddGrpcServer(configure);
        builder.Services.AddGrpcHealth();
        builder.Services.AddGrpcReflection();
        builder.Services.AddSingleton<EchoServiceImpl>();
        var app = builder.Build();
        app.MapGrpcService<EchoServiceImpl>();
        app.MapGrpcHealthService();
        app.MapGrpcReflectionService();
        map?.Invoke(app);
        await app.StartAsync();
        return new GrpcTestServer(app, port, app.Services.GetRequiredService<EchoServiceImpl>());
    }

    public GrpcChannel CreateChannel(GrpcChannelOptions? options = null) => GrpcChannel.ForAddress(Address, options);

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

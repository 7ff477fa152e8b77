using System.Net;
using Microsoft.Extensions.Options;
using WebhookConnect.Admin.Api;
using WebhookConnect.Admin.Authentication;
using WebhookConnect.Admin.Declarative;
using WebhookConnect.Admin.Telemetry;
using WebhookConnect.Grpc.Client;
using WebhookConnect.Grpc.Server;
using WebhookConnect.Grpc.StandardServices;
using WebhookConnect.ServiceDefaults;
using QueueAdminClient = WebhookConnect.Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient;

namespace WebhookConnect.Admin;

/// <summary>The admin service's wiring, in one place.</summary>
public static class AdminExtensions
{
    public static WebApplicationBuilder AddAdmin(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<AdminOptions>(builder.Configuration, AdminOptions.SectionName);
        services.AddSingleton(sp => GrpcChannel.ForAddress(sp.GetRequiredService<IOptions<AdminOptions>>().Value.QueueManager));
        services.AddSingleton(sp => new QueueAdminClient(sp.GetRequiredService<GrpcChannel>()));
        services.AddSingleton<AdminMetrics>();
        services.AddSingleton<AdminForwarder>();
        services.AddSingleton<AdminAuthentication>();
        services.AddSingleton<ChannelsFileApplier>();
        services.AddHostedService(sp => sp.GetRequiredService<ChannelsFileApplier>());
        services.AddHealthChecks().AddCheck<ChannelsFileHealthCheck>("channels-file", tags: [HealthCheckTags.Ready]);
        services.AddGrpcServer();
        services.AddGrpcHealth();
        services.AddGrpcReflection();
        builder.WebHost.ConfigureKestrel((_, kestrel) =>
        {
            // Reading the options validates them, so a bad setting stops start-up with the setting named.
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<AdminOptions>>().Value;
            kestrel.ListenGrpc(IPAddress.Parse(options.Host), options.GrpcPort);
            kestrel.Listen(IPAddress.Parse(options.Host), options.HttpPort);
        });
        return builder;
    }

    public static WebApplication MapAdmin(this WebApplication app)
    {
        var authentication = app.Services.GetRequiredService<AdminAuthentication>();
        _ = app.Services.GetRequiredService<AdminMetrics>(); // its gauges exist from the start, not from the first call
        app.Use(authentication.InvokeAsync);
        app.MapGrpcService<AdminService>();
        app.MapGrpcHealthService();
        app.MapGrpcReflectionService();
        app.MapJsonTwin(app.Services.GetRequiredService<IOptions<AdminOptions>>().Value.HttpPort);
        return app;
    }
}

using System.Net;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using WebhookConnect.Admin.Api;
using WebhookConnect.Admin.Authentication;
using WebhookConnect.Admin.Declarative;
using WebhookConnect.Admin.OperatorConsole;
using WebhookConnect.Admin.Telemetry;
using WebhookConnect.ServiceDefaults;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.ServiceDefaults.Tls;
using QueueAdminClient = WebhookConnect.Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient;

namespace WebhookConnect.Admin;

/// <summary>The admin service's wiring, in one place.</summary>
public static class AdminExtensions
{
    public static WebApplicationBuilder AddAdmin(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<AdminOptions>(builder.Configuration, AdminOptions.SectionName);
        services.AddGrpcClientDefaults<QueueAdminClient>(
            sp => sp.GetRequiredService<IOptions<AdminOptions>>().Value.QueueManager,
            caFile: sp => sp.GetRequiredService<IOptions<AdminOptions>>().Value.QueueManagerCaFile);
        services.AddSingleton<AdminMetrics>();
        services.AddSingleton<AdminForwarder>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<AdminTokens>();
        services.AddSingleton<AdminAudit>();
        services.AddHostedService(sp => sp.GetRequiredService<AdminAudit>());
        services.AddSingleton<ConsoleSessions>();
        services.AddSingleton<AdminAuthentication>();
        services.AddSingleton<ChannelsFileApplier>();
        services.AddHostedService(sp => sp.GetRequiredService<ChannelsFileApplier>());
        services.AddHealthChecks().AddCheck<ChannelsFileHealthCheck>("channels-file", tags: [HealthCheckTags.Ready]);
        services.AddSingleton<AdminService>();
        services.AddSingleton<AdminAuthorizationInterceptor>();
        builder.AddGrpcServerDefaults(Contracts.Admin.V1.AdminService.Descriptor.FullName)
            .AddServiceOptions<AdminService>(o => o.Interceptors.Add<AdminAuthorizationInterceptor>());
        builder.WebHost.ConfigureKestrel((_, kestrel) =>
        {
            // Reading the options validates them, so a bad setting stops start-up with the setting named.
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<AdminOptions>>().Value;
            kestrel.ListenGrpc(IPAddress.Parse(options.Host), options.GrpcPort, options.Tls, "admin gRPC");
            kestrel.Listen(IPAddress.Parse(options.Host), options.HttpPort, listen => listen.UseTls(options.Tls, "admin HTTP"));
        });
        return builder;
    }

    public static WebApplication MapAdmin(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<AdminOptions>>().Value;
        _ = app.Services.GetRequiredService<AdminMetrics>(); // its gauges exist from the start, not from the first call
        app.UseListenerScope();
        app.MapGrpcService<AdminService>().OnlyOnPort(options.GrpcPort);
        app.MapGrpcStandardServices(reflectionPort: options.GrpcPort);
        app.MapConsole(options.HttpPort);
        app.MapJsonTwin(options.HttpPort);
        return app;
    }
}

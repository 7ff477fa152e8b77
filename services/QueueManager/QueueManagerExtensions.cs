using System.Net;
using Microsoft.Extensions.Options;
using WebhookConnect.Grpc.Server;
using WebhookConnect.Grpc.StandardServices;
using WebhookConnect.QueueManager.Admin;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Publishing;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Redis;
using WebhookConnect.QueueManager.Streams;
using WebhookConnect.QueueManager.Telemetry;
using WebhookConnect.ServiceDefaults;

namespace WebhookConnect.QueueManager;

/// <summary>The queue-manager's wiring, in one place.</summary>
public static class QueueManagerExtensions
{
    public static WebApplicationBuilder AddQueueManager(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<QueueManagerOptions>(builder.Configuration, QueueManagerOptions.SectionName);
        services.AddRedis();
        services.AddSingleton<ClusterEvents>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterEvents>());
        services.AddSingleton<ReplicaIdentity>();
        services.AddSingleton<MessageQueue>();
        services.AddSingleton<Publisher>();
        services.AddSingleton<InternalAuthentication>();
        services.AddSingleton<QueueQueries>();
        services.AddSingleton<QueueMetrics>();
        services.AddHostedService<QueueGaugeRefresher>();
        services.AddHostedService<Sweeper>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<ConnectionRegistry>());
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ChannelStore>();
        services.AddSingleton<EndpointTable>();
        services.AddGrpcServer();
        services.AddGrpcHealth();
        services.AddGrpcReflection();
        builder.WebHost.ConfigureKestrel((_, kestrel) =>
        {
            // Reading the options validates them, so a bad port or address stops start-up with the setting named.
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<QueueManagerOptions>>().Value;
            kestrel.ListenGrpc(IPAddress.Parse(options.Host), options.Port);
        });
        return builder;
    }

    public static WebApplication MapQueueManager(this WebApplication app)
    {
        var internalAuthentication = app.Services.GetRequiredService<InternalAuthentication>();
        app.Use(internalAuthentication.InvokeAsync);
        app.MapGrpcService<PublishService>();
        app.MapGrpcService<ConnectService>();
        app.MapGrpcService<QueueAdminService>();
        app.MapGrpcHealthService();
        app.MapGrpcReflectionService();
        return app;
    }
}

using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using OpenTelemetry.Trace;
using WebhookConnect.QueueManager.Admin;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Publishing;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Redis;
using WebhookConnect.QueueManager.Streams;
using WebhookConnect.QueueManager.Streams.Http1;
using WebhookConnect.QueueManager.Telemetry;
using WebhookConnect.ServiceDefaults;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.ServiceDefaults.Tls;

namespace WebhookConnect.QueueManager;

/// <summary>The queue-manager's wiring, in one place.</summary>
public static class QueueManagerExtensions
{
    public static WebApplicationBuilder AddQueueManager(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<QueueManagerOptions>(builder.Configuration, QueueManagerOptions.SectionName);
        services.AddRedis();
        // Redis commands as spans of the request that issued them (the multiplexer is found in DI).
        services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddRedisInstrumentation());
        services.AddSingleton<ClusterEvents>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterEvents>());
        services.AddSingleton<ReplicaIdentity>();
        services.AddSingleton<MessageQueue>();
        services.AddSingleton<Publisher>();
        services.AddSingleton<QueueQueries>();
        services.AddSingleton<History.MessageHistory>();
        services.AddSingleton<History.ChannelTail>();
        services.AddSingleton<QueueMetrics>();
        services.AddHostedService<QueueGaugeRefresher>();
        services.AddHostedService<Sweeper>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<ConnectionRegistry>());
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ChannelStore>();
        services.AddSingleton<EndpointTable>();

        // One instance of each service for all calls (they keep no per-call state), as before the move to
        // Grpc.AspNetCore, whose default is one per call.
        services.AddSingleton<PublishService>();
        services.AddSingleton<ConnectionOpener>();
        services.AddSingleton<ConnectService>();
        services.AddSingleton<StreamEndpoints>();
        services.AddSingleton<LongPoll>();
        services.AddSingleton<PollConnections>();
        services.AddSingleton<HttpSettlement>();
        services.AddSingleton<QueueAdminService>();
        services.AddSingleton<InternalTokenInterceptor>();
        builder.AddGrpcServerDefaults(
                Contracts.V1.ConnectService.Descriptor.FullName,
                Contracts.V1.PublishService.Descriptor.FullName,
                Contracts.Queue.V1.QueueAdminService.Descriptor.FullName)
            .AddServiceOptions<PublishService>(o => o.Interceptors.Add<InternalTokenInterceptor>())
            .AddServiceOptions<QueueAdminService>(o => o.Interceptors.Add<InternalTokenInterceptor>());
        builder.WebHost.ConfigureKestrel((_, kestrel) =>
        {
            // Reading the options validates them, so a bad port or address stops start-up with the setting named.
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<QueueManagerOptions>>().Value;
            kestrel.ListenGrpc(IPAddress.Parse(options.Host), options.Port, options.Tls, "queue-manager public");
            kestrel.ListenGrpc(IPAddress.Parse(options.InternalHost), options.InternalPort, options.InternalTls, "queue-manager internal");
            // HTTP/1.1 only: the connector protocols for networks whose proxies break HTTP/2 (SPEC §16).
            kestrel.Listen(IPAddress.Parse(options.HttpHost), options.HttpPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.UseTls(options.HttpTls, "queue-manager HTTP/1.1 connectors");
            });
        });
        return builder;
    }

    /// <summary>
    /// The public port serves <c>Connect</c> (and health) only; the internal port serves Publish, the internal admin
    /// API, reflection and health; the HTTP/1.1 port serves the connector protocols (<c>/connect/…</c>). Anything
    /// else on a port is UNIMPLEMENTED.
    /// </summary>
    public static WebApplication MapQueueManager(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<QueueManagerOptions>>().Value;
        app.UseListenerScope();
        app.MapGrpcService<ConnectService>().OnlyOnPort(options.Port);
        app.MapGrpcService<PublishService>().OnlyOnPort(options.InternalPort);
        app.MapGrpcService<QueueAdminService>().OnlyOnPort(options.InternalPort);
        app.MapGrpcStandardServices(reflectionPort: options.InternalPort);
        app.MapHttp1Connectors();
        return app;
    }
}

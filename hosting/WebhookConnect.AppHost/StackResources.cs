using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace WebhookConnect.AppHost;

/// <summary>
/// The resources of the local stack, in the order they wait for each other: Redis (an executable: redis-server with
/// AOF in the data directory), queue-manager, admin (the demo channel from its channels file), ingress, the echo
/// target, and a connector for the demo channel. Each service listens on its SPEC §14 port on 127.0.0.1 and is ready
/// when its management port's <c>/readyz</c> says so. The services export traces, metrics and logs to the dashboard:
/// Aspire sets <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> on project resources, and the service defaults export when it is set.
/// </summary>
public static class StackResources
{
    /// <summary>The resource names, also the services' OpenTelemetry service names.</summary>
    public static readonly IReadOnlyList<string> Names = ["redis", "queue-manager", "admin", "ingress", "echo", "connector"];

    /// <summary>
    /// The dashboard on fixed loopback ports (so its URL can be printed and bookmarked) over plain HTTP: the stack is
    /// for one machine, and the dashboard still asks for its login token.
    /// </summary>
    public static void UseLocalDashboard(this IDistributedApplicationBuilder builder, StackSettings settings)
    {
        builder.Configuration["ASPNETCORE_URLS"] = settings.Loopback("DASHBOARD_PORT");
        builder.Configuration["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = settings.Loopback("DASHBOARD_OTLP_PORT");
        builder.Configuration["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = settings.Loopback("DASHBOARD_RESOURCE_SERVICE_PORT");
        builder.Configuration["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        builder.Configuration["AppHost:BrowserToken"] = settings.DashboardToken;
        // The terminal keeps Aspire's lines that matter (the dashboard's address, failures). The warning that no
        // trusted ASP.NET Core development certificate exists is about HTTPS, which this stack does not use (the
        // dashboard still shows it as a banner; see README "Run").
        builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning";
        builder.Configuration["Logging:LogLevel:Aspire.Hosting.Dcp.DcpHost"] = "Error";
    }

    public static void AddWebhookConnect(this IDistributedApplicationBuilder builder, StackSettings settings, DevData data, Leftovers leftovers)
    {
        builder.Services.AddSingleton(leftovers);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(data);
        builder.Services.AddHostedService<Terminal>();
        var redisPort = settings.Port("REDIS_PORT");
        builder.Services.AddHealthChecks().AddCheck("redis-ping", new RedisPing(redisPort));
        var redis = builder.AddExecutable("redis", "redis-server", data.Redis,
                "--port", StackSettings.Text(redisPort), "--bind", "127.0.0.1", "--dir", data.Redis,
                "--appendonly", "yes", "--save", "", "--protected-mode", "yes")
            .WithEndpoint(port: redisPort, scheme: "tcp", name: "tcp", isProxied: false)
            .WithHealthCheck("redis-ping");

        var internalApi = settings.Loopback("QUEUE_MANAGER_INTERNAL_PORT");
        var queueManager = Service<Projects.WebhookConnect_QueueManager>(builder, "queue-manager", settings, "QUEUE_MANAGER_MANAGEMENT_PORT")
            .WithEnvironment("QueueManager__Redis", $"127.0.0.1:{StackSettings.Text(redisPort)}")
            .WithEnvironment("QueueManager__Host", "127.0.0.1")
            .WithEnvironment("QueueManager__Port", StackSettings.Text(settings.Port("QUEUE_MANAGER_PORT")))
            // The development setting: the internal APIs without a token, allowed only on a loopback listener.
            .WithEnvironment("QueueManager__HttpHost", "127.0.0.1")
            .WithEnvironment("QueueManager__HttpPort", StackSettings.Text(settings.Port("QUEUE_MANAGER_HTTP_PORT")))
            .WithEnvironment("QueueManager__InternalHost", "127.0.0.1")
            .WithEnvironment("QueueManager__InternalPort", StackSettings.Text(settings.Port("QUEUE_MANAGER_INTERNAL_PORT")))
            .WithEnvironment("QueueManager__AllowInternalWithoutToken", "true")
            .WithHttpEndpoint(port: settings.Port("QUEUE_MANAGER_PORT"), name: "connect", isProxied: false)
            .WithHttpEndpoint(port: settings.Port("QUEUE_MANAGER_INTERNAL_PORT"), name: "internal", isProxied: false)
            .WithHttpEndpoint(port: settings.Port("QUEUE_MANAGER_HTTP_PORT"), name: "http1", isProxied: false)
            .WaitFor(redis);

        var admin = Service<Projects.WebhookConnect_Admin>(builder, "admin", settings, "ADMIN_MANAGEMENT_PORT")
            // A file, not the token itself: the dashboard shows every resource's environment.
            .WithEnvironment("Admin__TokenFile", data.AdminTokenFile)
            .WithEnvironment("Admin__Host", "127.0.0.1")
            .WithEnvironment("Admin__GrpcPort", StackSettings.Text(settings.Port("ADMIN_GRPC_PORT")))
            .WithEnvironment("Admin__HttpPort", StackSettings.Text(settings.Port("ADMIN_HTTP_PORT")))
            .WithEnvironment("Admin__QueueManager", internalApi)
            .WithEnvironment("Admin__ChannelsFile", data.ChannelsFile)
            .WithHttpEndpoint(port: settings.Port("ADMIN_GRPC_PORT"), name: "grpc", isProxied: false)
            .WithHttpEndpoint(port: settings.Port("ADMIN_HTTP_PORT"), name: "http", isProxied: false)
            .WaitFor(queueManager);

        var ingress = Service<Projects.WebhookConnect_Ingress>(builder, "ingress", settings, "INGRESS_MANAGEMENT_PORT")
            .WithEnvironment("Ingress__Host", "127.0.0.1")
            .WithEnvironment("Ingress__Port", StackSettings.Text(settings.Port("INGRESS_PORT")))
            .WithEnvironment("Ingress__QueueManager", internalApi)
            .WithEnvironment("Ingress__SpoolPath", data.Spool)
            .WithHttpEndpoint(port: settings.Port("INGRESS_PORT"), name: "webhooks", isProxied: false)
            .WaitFor(queueManager);

        var echo = builder.AddProject<Projects.WebhookConnect_EchoTarget>("echo", options => options.ExcludeLaunchProfile = true)
            .WithEndpointsInEnvironment(_ => false)
            .WithEnvironment("ECHO_PORT", StackSettings.Text(settings.Port("ECHO_PORT")))
            .WithHttpEndpoint(port: settings.Port("ECHO_PORT"), name: "http", isProxied: false)
            .WithHttpHealthCheck("/healthz", endpointName: "http");

        // The connector takes flags, as a developer would run it by hand; its token comes from a file.
        Service<Projects.WebhookConnect_Connector>(builder, "connector", settings, "CONNECTOR_MANAGEMENT_PORT")
            .WithArgs(
                "--queue-manager", settings.Loopback("QUEUE_MANAGER_PORT"), "--insecure",
                "--connector-id", "devstack",
                "--channel", "demo", "--token-file", data.DemoTokenFile,
                "--target", $"{settings.Loopback("ECHO_PORT")}/webhooks",
                "--management-host", "127.0.0.1", "--management-port", StackSettings.Text(settings.Port("CONNECTOR_MANAGEMENT_PORT")))
            .WaitFor(admin)
            .WaitFor(ingress)
            .WaitFor(echo);
    }

    /// <summary>
    /// A service as a project resource: no launch profile and no <c>ASPNETCORE_URLS</c> (each service binds its own
    /// listeners from its settings), the management listener on its port, ready when <c>/readyz</c> answers 200.
    /// </summary>
    private static IResourceBuilder<ProjectResource> Service<TProject>(IDistributedApplicationBuilder builder, string name, StackSettings settings, string managementPort)
        where TProject : IProjectMetadata, new() =>
        builder.AddProject<TProject>(name, options => options.ExcludeLaunchProfile = true)
            .WithEndpointsInEnvironment(_ => false)
            .WithEnvironment("Management__Host", "127.0.0.1")
            .WithEnvironment("Management__Port", StackSettings.Text(settings.Port(managementPort)))
            .WithHttpEndpoint(port: settings.Port(managementPort), name: "management", isProxied: false)
            .WithHttpHealthCheck("/readyz", endpointName: "management");
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using WebhookConnect.ServiceDefaults.Logging;
using WebhookConnect.ServiceDefaults.Management;
using WebhookConnect.ServiceDefaults.Observability;

namespace WebhookConnect.ServiceDefaults;

/// <summary>
/// What every Webhook Connect service host gets, in the spirit of eShop's ServiceDefaults:
/// <code>
/// var builder = WebApplication.CreateBuilder(args);
/// builder.AddServiceDefaults(new("queue-manager", 9091));
/// builder.Services.AddValidatedOptions&lt;QueueManagerOptions&gt;(builder.Configuration, "QueueManager");
/// builder.WebHost.ConfigureKestrel((context, kestrel) => kestrel.Listen(IPAddress.Any, 5001, l => l.Protocols = HttpProtocols.Http2));
/// var app = builder.Build();
/// app.MapServiceDefaults();
/// app.Run();
/// </code>
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>
    /// Adds validated <see cref="ManagementOptions"/>, console logging (JSON when <c>Logging:Format</c> or
    /// <c>LOG_FORMAT</c> is <c>json</c>), health checks, OpenTelemetry tracing and metrics (exported over OTLP
    /// when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set), the OpenTelemetry Prometheus exporter, and a Kestrel
    /// listener on the management port.
    /// </summary>
    /// <remarks>
    /// The management listener is added with <c>ConfigureKestrel(... Listen ...)</c>. A service declares its
    /// own traffic endpoints the same way (<c>builder.WebHost.ConfigureKestrel(k => k.Listen(...))</c>); the
    /// listeners add up. Do not use <c>UseUrls</c>, <c>ASPNETCORE_URLS</c> or <c>ASPNETCORE_HTTP_PORTS</c>:
    /// Kestrel ignores URLs whenever any endpoint is configured with <c>Listen</c>, so those addresses would
    /// silently not be bound.
    /// </remarks>
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder, ServiceDefaultsSettings settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentException.ThrowIfNullOrEmpty(settings.ServiceName);

        var services = builder.Services;

        // The settings' default comes first so configuration overrides it.
        services.Configure<ManagementOptions>(o => o.Port = settings.DefaultManagementPort);
        services.AddValidatedOptions<ManagementOptions>(builder.Configuration, ManagementOptions.SectionName);

        ConsoleLogging.AddDefaultLevels(builder.Configuration);
        ConsoleLogging.Add(builder.Logging);

        services.AddHealthChecks();

        OpenTelemetrySetup.Add(services, builder.Configuration, settings);
        services.AddHostedService<TelemetryLifetime>();

        builder.WebHost.ConfigureKestrel((_, kestrel) =>
            ManagementEndpoints.Listen(kestrel, kestrel.ApplicationServices.GetRequiredService<IOptions<ManagementOptions>>().Value));

        return builder;
    }

    /// <summary>
    /// Maps <c>GET /healthz</c> (checks tagged <see cref="HealthCheckTags.Live"/>), <c>GET /readyz</c> (checks
    /// tagged <see cref="HealthCheckTags.Ready"/>; 503 naming each failing check) and <c>GET /metrics</c>
    /// (the OpenTelemetry Prometheus exporter) on the management port only, in every environment.
    /// </summary>
    public static WebApplication MapServiceDefaults(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        ManagementEndpoints.Map(app, ManagementEndpoints.Port(app.Services));
        return app;
    }
}

using Microsoft.Extensions.Options;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Connector.Delivery;
using WebhookConnect.Connector.Streams;
using WebhookConnect.Connector.Telemetry;
using WebhookConnect.ServiceDefaults;

namespace WebhookConnect.Connector;

/// <summary>The connector's wiring, in one place.</summary>
public static class ConnectorExtensions
{
    /// <summary>Replaces the builder's configuration sources with the connector's layers: the file, then the
    /// environment (standard <c>Section__Key</c> variables and the normalised <c>CONNECTOR__*</c> ones), then flags.</summary>
    public static WebApplicationBuilder UseConnectorConfiguration(this WebApplicationBuilder builder, IReadOnlyList<IReadOnlyDictionary<string, string?>> layers)
    {
        var configuration = builder.Configuration;
        configuration.Sources.Clear();
        configuration.AddInMemoryCollection(layers[0]);
        configuration.AddEnvironmentVariables();
        foreach (var layer in layers.Skip(1))
        {
            configuration.AddInMemoryCollection(layer);
        }

        return builder;
    }

    /// <summary><c>--check</c>: validates the settings (throwing <see cref="OptionsValidationException"/> like a start
    /// would) and prints the effective ones as JSON, tokens masked.</summary>
    public static void PrintEffectiveConfiguration(this WebApplication app, TextWriter output)
    {
        var connector = app.Services.GetRequiredService<IOptions<ConnectorOptions>>().Value;
        var management = app.Services.GetRequiredService<IOptions<ManagementOptions>>().Value;
        var masked = System.Text.Json.JsonSerializer.SerializeToNode(connector)!;
        foreach (var subscription in masked["Subscriptions"]!.AsArray())
        {
            if (subscription!["Token"]!.GetValue<string>().Length > 0)
            {
                subscription["Token"] = "***";
            }
        }

        var document = new System.Text.Json.Nodes.JsonObject
        {
            ["Connector"] = masked,
            ["Management"] = System.Text.Json.JsonSerializer.SerializeToNode(management),
        };
        output.WriteLine(document.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>
    /// The connector's service defaults. Per message it makes one HTTP call; tracing and measuring every one of those
    /// through <c>System.Net.Http</c> cost about a fifth of its CPU in the benchmark (docs/connector.md), so the
    /// HTTP client's activities are created only when traces are exported over OTLP, and its meters are left out
    /// (<c>webhookconnect_connector_target_duration_seconds</c> measures the target calls).
    /// </summary>
    public static ServiceDefaultsSettings ServiceDefaults(IConfiguration configuration)
    {
        var tracesExported = DeliveryTracing.IsExported(configuration);
        return new ServiceDefaultsSettings("connector", DefaultManagementPort: 9093)
        {
            Meters = [WebhookConnect.ServiceDefaults.Telemetry.Prefix + ".*", "System.Runtime"],
            ActivitySources = tracesExported ? [WebhookConnect.ServiceDefaults.Telemetry.Prefix + ".*", "System.Net.Http"] : [WebhookConnect.ServiceDefaults.Telemetry.Prefix + ".*"],
        };
    }

    public static WebApplicationBuilder AddConnector(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<ConnectorOptions>(builder.Configuration, ConnectorOptions.SectionName);
        services.AddSingleton<IValidateOptions<ConnectorOptions>>(new SubscriptionBindingValidator(builder.Configuration));
        services.AddSingleton<ConnectorMetrics>();
        services.AddTargetHttpClient(tracesExported: DeliveryTracing.IsExported(builder.Configuration));
        services.AddSingleton<TargetDelivery>();
        services.AddSingleton<ConnectorWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<ConnectorWorker>());
        services.AddHealthChecks().AddCheck<StreamsHealthCheck>("streams", tags: [HealthCheckTags.Ready]);

        // Shutdown waits for the drain: the grace period for in-flight deliveries plus time to report them and close.
        services.AddOptions<HostOptions>().Configure<IOptions<ConnectorOptions>>((host, connector) =>
            host.ShutdownTimeout = connector.Value.DrainGracePeriod + TimeSpan.FromSeconds(15));
        return builder;
    }
}

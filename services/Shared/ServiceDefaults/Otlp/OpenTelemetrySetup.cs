using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace WebhookConnect.ServiceDefaults.Otlp;

/// <summary>
/// Builds the tracer and meter providers by hand: OpenTelemetry.Extensions.Hosting is not available to us, and
/// the runtime's own activity sources and meters stand in for the instrumentation packages.
/// </summary>
internal static class OpenTelemetrySetup
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string Traces = "TRACES";
    public const string Metrics = "METRICS";

    // ASP.NET Core 10 leaves the OpenTelemetry request-time tags (url.path, http.request.method, server.*) off
    // its request activity unless this switch is false; .NET 11 flips the default. Without them the sampler
    // cannot see url.path. The end-of-request tags come from RequestActivityEnricher.
    private const string AspNetCoreTelemetrySwitch = "Microsoft.AspNetCore.Hosting.SuppressActivityOpenTelemetryData";

    public static void EnableAspNetCoreActivityData() => AppContext.SetSwitch(AspNetCoreTelemetrySwitch, false);

    /// <summary>
    /// The exporter reads every <c>OTEL_*</c> setting (endpoint, protocol, headers, batch and export intervals)
    /// itself; handing it the app's configuration lets appsettings and command-line values count too, with
    /// environment variables underneath.
    /// </summary>
    public static IConfiguration ExporterConfiguration(IConfiguration appConfiguration) =>
        new ConfigurationBuilder().AddEnvironmentVariables().AddConfiguration(appConfiguration, shouldDisposeConfiguration: false).Build();

    /// <summary>
    /// A signal is exported when the general endpoint (SPEC §10) or that signal's own endpoint
    /// (<c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>, <c>OTEL_EXPORTER_OTLP_METRICS_ENDPOINT</c>) is set. Unlike the
    /// OpenTelemetry default, nothing is sent to localhost:4317 just because no one said otherwise.
    /// </summary>
    public static bool IsOtlpEnabled(IConfiguration exporterConfiguration, string signal) =>
        !string.IsNullOrWhiteSpace(exporterConfiguration[EndpointKey]) ||
        !string.IsNullOrWhiteSpace(exporterConfiguration[$"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"]);

    public static TracerProvider BuildTracerProvider(ServiceDefaultsSettings settings, IConfiguration exporterConfiguration)
    {
        var builder = Sdk.CreateTracerProviderBuilder()
            .ConfigureServices(services => services.AddSingleton(exporterConfiguration))
            .SetResourceBuilder(Resource(settings))
            .SetSampler(new ManagementTrafficSampler(new ParentBasedSampler(new AlwaysOnSampler())));
        foreach (var source in WithPrefixes(settings.ActivitySources))
        {
            builder.AddSource(source);
        }

        if (IsOtlpEnabled(exporterConfiguration, Traces))
        {
            builder.AddOtlpExporter(o => ApplySignalSettings(o, exporterConfiguration, Traces));
        }

        return builder.Build();
    }

    public static MeterProvider BuildMeterProvider(ServiceDefaultsSettings settings, IConfiguration exporterConfiguration)
    {
        var builder = Sdk.CreateMeterProviderBuilder()
            .ConfigureServices(services => services.AddSingleton(exporterConfiguration))
            .SetResourceBuilder(Resource(settings))
            // OpenTelemetry's default buckets assume milliseconds; ours are seconds, matching /metrics.
            .AddView(instrument => instrument.Unit == "s" && instrument.Meter.Name.StartsWith(Telemetry.Prefix, StringComparison.OrdinalIgnoreCase)
                ? new ExplicitBucketHistogramConfiguration { Boundaries = [.. Telemetry.SecondsBuckets] }
                : null);
        foreach (var meter in WithPrefixes(settings.Meters))
        {
            builder.AddMeter(meter);
        }

        if (IsOtlpEnabled(exporterConfiguration, Metrics))
        {
            builder.AddOtlpExporter(o => ApplySignalSettings(o, exporterConfiguration, Metrics));
        }

        return builder.Build();
    }

    /// <summary>
    /// The exporter reads the general <c>OTEL_EXPORTER_OTLP_*</c> keys itself but honours the per-signal ones only
    /// through <c>UseOtlpExporter</c>, which lives in the hosting package we lack. A per-signal endpoint is a full
    /// URL (no <c>/v1/traces</c> appended), which is what setting it here means to the exporter too.
    /// </summary>
    private static void ApplySignalSettings(OtlpExporterOptions options, IConfiguration configuration, string signal)
    {
        if (Uri.TryCreate(configuration[$"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"], UriKind.Absolute, out var endpoint))
        {
            options.Endpoint = endpoint;
        }

        switch (configuration[$"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL"])
        {
            case "grpc":
                options.Protocol = OtlpExportProtocol.Grpc;
                break;
            case "http/protobuf":
                options.Protocol = OtlpExportProtocol.HttpProtobuf;
                break;
            default:
                break;
        }
    }

    private static ResourceBuilder Resource(ServiceDefaultsSettings settings) =>
        ResourceBuilder.CreateDefault().AddService(
            serviceName: settings.ServiceName,
            serviceNamespace: "webhookconnect",
            serviceVersion: Assembly.GetEntryAssembly()?.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);

    /// <summary>OpenTelemetry's <c>X.*</c> does not match <c>X</c> itself; /metrics does, so both are kept in step.</summary>
    private static IEnumerable<string> WithPrefixes(IEnumerable<string> patterns) =>
        patterns.SelectMany(p => p.EndsWith(".*", StringComparison.Ordinal) ? [p, p[..^2]] : new[] { p }).Distinct();
}

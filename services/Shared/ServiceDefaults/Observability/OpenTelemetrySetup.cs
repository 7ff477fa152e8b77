using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace WebhookConnect.ServiceDefaults.Observability;

/// <summary>
/// The OpenTelemetry wiring of every service (OpenTelemetry.Extensions.Hosting, as in eShop's ServiceDefaults):
/// our meters and activity sources, the instrumentation packages, the Prometheus exporter behind <c>/metrics</c>,
/// and OTLP only when an endpoint is configured.
/// </summary>
internal static class OpenTelemetrySetup
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string Traces = "TRACES";
    public const string Metrics = "METRICS";
    public const string Logs = "LOGS";

    // ASP.NET Core 10 leaves the OpenTelemetry request-time tags (url.path, http.request.method, server.*) off
    // its request activity unless this switch is false; .NET 11 flips the default. Without them the sampler
    // cannot see url.path.
    private const string AspNetCoreTelemetrySwitch = "Microsoft.AspNetCore.Hosting.SuppressActivityOpenTelemetryData";

    /// <summary>
    /// A name in <see cref="ServiceDefaultsSettings.ActivitySources"/> that an instrumentation package owns turns that
    /// package on: it adds what the bare activity source lacks (route, status code and error on server spans; the
    /// same for HTTP and gRPC client calls). Any other name is added as an activity source.
    /// </summary>
    private static readonly Dictionary<string, Action<TracerProviderBuilder>> TraceInstrumentations =
        new(StringComparer.OrdinalIgnoreCase)
        {
            ["Microsoft.AspNetCore"] = t => t.AddAspNetCoreInstrumentation(),
            ["System.Net.Http"] = t => t.AddHttpClientInstrumentation(),
            ["Grpc.Net.Client"] = t => t.AddGrpcClientInstrumentation(),
        };

    /// <summary>Client-side trace instrumentation, on only while traces are exported.</summary>
    private static readonly HashSet<string> ClientTraceSources = new(StringComparer.OrdinalIgnoreCase) { "System.Net.Http", "Grpc.Net.Client" };

    /// <summary>Our own activity sources (<c>WebhookConnect</c>, <c>WebhookConnect.*</c>): traced only while exported.</summary>
    private static bool IsOwnSource(string name) =>
        name.Equals(Telemetry.Prefix, StringComparison.OrdinalIgnoreCase) || name.StartsWith(Telemetry.Prefix + ".", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The same for <see cref="ServiceDefaultsSettings.Meters"/>. On .NET 10 these packages enable the runtime's
    /// built-in meters: ASP.NET Core's (hosting, Kestrel, routing, diagnostics, …), System.Net.Http with
    /// System.Net.NameResolution, System.Runtime.
    /// </summary>
    private static readonly Dictionary<string, Action<MeterProviderBuilder>> MeterInstrumentations = CreateMeterInstrumentations();

    /// <summary>
    /// A signal is exported when the general endpoint (SPEC §10) or that signal's own endpoint
    /// (<c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>, <c>…_METRICS_ENDPOINT</c>, <c>…_LOGS_ENDPOINT</c>) is set. Unlike the
    /// OpenTelemetry default, nothing is sent to localhost:4317 just because no one said otherwise.
    /// </summary>
    public static bool IsOtlpEnabled(IConfiguration configuration, string signal) =>
        !string.IsNullOrWhiteSpace(configuration[EndpointKey]) ||
        !string.IsNullOrWhiteSpace(configuration[$"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"]);

    /// <summary>
    /// Registers the tracer and meter providers. Whether OTLP is on is decided from the builder's configuration
    /// (environment variables, appsettings, command line); the exporter then reads its other <c>OTEL_*</c> settings
    /// (protocol, headers, batch and export intervals) from the same configuration.
    /// </summary>
    public static void Add(IServiceCollection services, IConfiguration configuration, ServiceDefaultsSettings settings)
    {
        AppContext.SetSwitch(AspNetCoreTelemetrySwitch, false);
        var exportTraces = IsOtlpEnabled(configuration, Traces);
        var exportMetrics = IsOtlpEnabled(configuration, Metrics);
        var exportLogs = IsOtlpEnabled(configuration, Logs);

        var openTelemetry = services.AddOpenTelemetry();
        if (exportLogs)
        {
            // Every log line also goes to the collector (the Aspire dashboard's structured logs, for one), with its
            // trace and span ids, so a trace shows the lines written while it ran. The console keeps its own copy.
            openTelemetry.WithLogging(
                logging => logging.AddOtlpExporter(o => ApplySignalSettings(o, configuration, Logs)),
                options =>
                {
                    options.IncludeFormattedMessage = true;
                    options.IncludeScopes = true;
                });
        }

        openTelemetry
            .ConfigureResource(resource => resource.AddService(
                serviceName: settings.ServiceName,
                serviceNamespace: "webhookconnect",
                serviceVersion: Assembly.GetEntryAssembly()?.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion))
            .WithTracing(tracing =>
            {
                tracing.SetSampler(new ManagementTrafficSampler(new ParentBasedSampler(new AlwaysOnSampler())));
                // Client spans (HttpClient, Grpc.Net.Client) cost a recorded activity and its tags on every outgoing
                // call, and only an exporter ever reads them: ingress pays it on every publish (measured: unary
                // Publish at 10.8 k/s with them, see docs/benchmarks.md). Our own sources (WebhookConnect.*) make
                // spans per message (ingress' publish, queue-manager's delivery and settlement, the connector's
                // delivery) that likewise only an exporter reads: with no listener, StartActivity returns null and
                // the hot paths skip even the parsing and formatting. Without an exporter only server spans stay on;
                // the trace context still crosses each call (HttpClient propagates Activity.Current without
                // instrumentation) and ingress still stores its server span's context in the message.
                var sources = exportTraces ? settings.ActivitySources : settings.ActivitySources.Where(s => !ClientTraceSources.Contains(s) && !IsOwnSource(s));
                AddSourcesAndInstrumentation(tracing, sources, TraceInstrumentations, (t, source) => t.AddSource(source));

                settings.ConfigureTracing?.Invoke(tracing);
                if (exportTraces)
                {
                    tracing.AddOtlpExporter(o => ApplySignalSettings(o, configuration, Traces));
                }
            })
            .WithMetrics(metrics =>
            {
                AddSourcesAndInstrumentation(metrics, settings.Meters, MeterInstrumentations, (m, meter) => m.AddMeter(meter));

                // OpenTelemetry's default buckets assume milliseconds; ours are seconds.
                metrics.AddView(instrument => instrument.Unit == "s" && instrument.Meter.Name.StartsWith(Telemetry.Prefix, StringComparison.OrdinalIgnoreCase)
                    ? new ExplicitBucketHistogramConfiguration { Boundaries = [.. Telemetry.SecondsBuckets] }
                    : null);
                metrics.AddPrometheusExporter(ConfigurePrometheus);
                settings.ConfigureMetrics?.Invoke(metrics);
                if (exportMetrics)
                {
                    metrics.AddOtlpExporter(o => ApplySignalSettings(o, configuration, Metrics));
                }
            });
    }

    /// <summary>
    /// <c>/metrics</c> keeps the names and labels it has always had (SPEC §10): units and <c>_total</c> become name
    /// suffixes as before, and nothing is added to every series: no <c>otel_scope_*</c> labels, no <c>target_info</c>
    /// (the resource is the scrape target's business, and OTLP carries it). Every scrape collects afresh, so a value
    /// read right after a change is the new one.
    /// </summary>
    private static void ConfigurePrometheus(PrometheusAspNetCoreOptions options)
    {
        options.TranslationStrategy = PrometheusAspNetCoreTranslationStrategy.UnderscoreEscapingWithSuffixes;
        options.DisableTotalNameSuffixForCounters = false;
        options.ScopeInfoEnabled = false;
        options.TargetInfoEnabled = false;
        options.ScrapeResponseCacheDurationMilliseconds = 0;
    }

    /// <summary>
    /// The exporter reads the general <c>OTEL_EXPORTER_OTLP_*</c> keys itself but honours the per-signal ones only
    /// through <c>UseOtlpExporter</c>, which turns on every signal at once. A per-signal endpoint is a full URL (no
    /// <c>/v1/traces</c> appended), which is what setting it here means to the exporter too.
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

    private static Dictionary<string, Action<MeterProviderBuilder>> CreateMeterInstrumentations()
    {
        // One instance for both ASP.NET Core names, so a service listing both turns the package on once.
        Action<MeterProviderBuilder> aspNetCore = m => m.AddAspNetCoreInstrumentation();
        return new(StringComparer.OrdinalIgnoreCase)
        {
            ["Microsoft.AspNetCore.Hosting"] = aspNetCore,
            ["Microsoft.AspNetCore.Server.Kestrel"] = aspNetCore,
            ["System.Net.Http"] = m => m.AddHttpClientInstrumentation(),
            ["System.Runtime"] = m => m.AddRuntimeInstrumentation(),
        };
    }

    private static void AddSourcesAndInstrumentation<TBuilder>(
        TBuilder builder, IEnumerable<string> names, Dictionary<string, Action<TBuilder>> instrumentations, Action<TBuilder, string> addSource)
    {
        var applied = new HashSet<Action<TBuilder>>();
        foreach (var name in WithPrefixes(names))
        {
            if (!instrumentations.TryGetValue(name, out var instrumentation))
            {
                addSource(builder, name);
            }
            else if (applied.Add(instrumentation))
            {
                instrumentation(builder);
            }
        }
    }

    /// <summary>OpenTelemetry's <c>X.*</c> does not match <c>X</c> itself; ours means both.</summary>
    private static IEnumerable<string> WithPrefixes(IEnumerable<string> patterns) =>
        patterns.SelectMany(p => p.EndsWith(".*", StringComparison.Ordinal) ? [p, p[..^2]] : new[] { p }).Distinct(StringComparer.OrdinalIgnoreCase);
}

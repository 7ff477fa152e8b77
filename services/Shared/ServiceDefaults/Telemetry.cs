using System.Diagnostics.Metrics;

namespace WebhookConnect.ServiceDefaults;

/// <summary>
/// Names and conventions shared by every service's instrumentation.
/// </summary>
/// <remarks>
/// A service creates one meter and one activity source named <c>WebhookConnect.&lt;Service&gt;</c>:
/// <code>
/// // Through IMeterFactory, so each host (and each test host) gets its own instruments.
/// var meter = meterFactory.Create(Telemetry.MeterName("QueueManager"));
/// var deliveries = meter.CreateCounter&lt;long&gt;("webhookconnect.deliveries", description: "Deliveries by outcome.");
/// var endToEnd = meter.CreateHistogram&lt;double&gt;("webhookconnect.end_to_end", unit: "s",
///     advice: Telemetry.SecondsHistogramAdvice);
///
/// // Activity sources are process-wide; a static field is the usual home.
/// static readonly ActivitySource Source = new(Telemetry.ActivitySourceName("QueueManager"));
/// </code>
/// The OpenTelemetry Prometheus exporter derives <c>/metrics</c> names from the instrument name: <c>.</c> and
/// <c>-</c> become <c>_</c>, the unit <c>s</c>/<c>ms</c>/<c>By</c> appends <c>_seconds</c>/<c>_milliseconds</c>/
/// <c>_bytes</c> unless the name already ends with it (a unit in braces such as <c>{message}</c> appends nothing),
/// and counters end in <c>_total</c>: the two instruments above are exported as
/// <c>webhookconnect_deliveries_total</c> and <c>webhookconnect_end_to_end_seconds</c>. A name users scrape is a
/// contract (SPEC §10): changing an instrument's name, unit or kind renames it.
/// </remarks>
public static class Telemetry
{
    /// <summary>The prefix of every meter and activity source of ours.</summary>
    public const string Prefix = "WebhookConnect";

    /// <summary>Meters exported by default: ours, and those of the ASP.NET Core, HttpClient and runtime instrumentation.</summary>
    public static IReadOnlyList<string> DefaultMeters { get; } =
    [
        Prefix + ".*",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "System.Net.Http",
        "System.Runtime",
    ];

    /// <summary>Activity sources traced by default: ours, and the ASP.NET Core, HttpClient and gRPC client instrumentation.</summary>
    public static IReadOnlyList<string> DefaultActivitySources { get; } =
    [
        Prefix + ".*",
        "Microsoft.AspNetCore",
        "System.Net.Http",
        "Grpc.Net.Client",
    ];

    /// <summary>Histogram bucket upper bounds for durations in seconds, from 0.5 ms to 10 s.</summary>
    public static IReadOnlyList<double> SecondsBuckets { get; } =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Advice for duration histograms in seconds.</summary>
    public static InstrumentAdvice<double> SecondsHistogramAdvice { get; } = new() { HistogramBucketBoundaries = SecondsBuckets };

    /// <summary>The meter name for a service, e.g. <c>WebhookConnect.QueueManager</c>.</summary>
    public static string MeterName(string service) => $"{Prefix}.{service}";

    /// <summary>The activity source name for a service, e.g. <c>WebhookConnect.QueueManager</c>.</summary>
    public static string ActivitySourceName(string service) => $"{Prefix}.{service}";
}

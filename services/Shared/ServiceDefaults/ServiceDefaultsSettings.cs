using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace WebhookConnect.ServiceDefaults;

/// <summary>
/// What a service tells <see cref="ServiceDefaultsExtensions.AddServiceDefaults"/> about itself.
/// Everything an operator may change lives in configuration (<see cref="ManagementOptions"/>, <c>Logging</c>,
/// <c>OTEL_*</c>); these are the code-side facts and defaults.
/// </summary>
/// <param name="ServiceName">The OpenTelemetry <c>service.name</c>, e.g. <c>queue-manager</c>.</param>
/// <param name="DefaultManagementPort">The management port used when <c>Management:Port</c> is not configured.</param>
public sealed record ServiceDefaultsSettings(string ServiceName, int DefaultManagementPort)
{
    /// <summary>
    /// Meters exported on <c>/metrics</c> and over OTLP. A trailing <c>.*</c> matches the name and every
    /// name below it. A meter that an OpenTelemetry instrumentation package owns (<c>Microsoft.AspNetCore.Hosting</c>,
    /// <c>Microsoft.AspNetCore.Server.Kestrel</c>, <c>System.Net.Http</c>, <c>System.Runtime</c>) turns that package
    /// on. Defaults to <see cref="Telemetry.DefaultMeters"/>.
    /// </summary>
    public IReadOnlyList<string> Meters { get; init; } = Telemetry.DefaultMeters;

    /// <summary>
    /// Activity sources traced. A source that an OpenTelemetry instrumentation package owns
    /// (<c>Microsoft.AspNetCore</c>, <c>System.Net.Http</c>, <c>Grpc.Net.Client</c>) turns that package on.
    /// Defaults to <see cref="Telemetry.DefaultActivitySources"/>.
    /// </summary>
    public IReadOnlyList<string> ActivitySources { get; init; } = Telemetry.DefaultActivitySources;

    /// <summary>
    /// More tracing for this service, after the sources above: the place for an instrumentation package only one
    /// service uses, e.g. <c>tracing =&gt; tracing.AddRedisInstrumentation()</c> in the queue-manager.
    /// </summary>
    public Action<TracerProviderBuilder>? ConfigureTracing { get; init; }

    /// <summary>More metrics for this service, after the meters above (an instrumentation package, a view).</summary>
    public Action<MeterProviderBuilder>? ConfigureMetrics { get; init; }
}

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
    /// name below it. Defaults to <see cref="Telemetry.DefaultMeters"/>.
    /// </summary>
    public IReadOnlyList<string> Meters { get; init; } = Telemetry.DefaultMeters;

    /// <summary>Activity sources traced. Defaults to <see cref="Telemetry.DefaultActivitySources"/>.</summary>
    public IReadOnlyList<string> ActivitySources { get; init; } = Telemetry.DefaultActivitySources;
}

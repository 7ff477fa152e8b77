using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace WebhookConnect.ServiceDefaults.Observability;

/// <summary>
/// Creates the telemetry providers before the server accepts its first request. OpenTelemetry.Extensions.Hosting
/// creates them in its hosted service's StartAsync, which in a WebApplication runs after Kestrel has started;
/// StartingAsync runs before any hosted service's StartAsync, so no early request or measurement is missed. The
/// container disposes the providers when the host is disposed, after the server has drained its last request,
/// and disposing flushes.
/// </summary>
internal sealed partial class TelemetryLifetime(IServiceProvider services, IConfiguration configuration, ILogger<TelemetryLifetime> logger)
    : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        services.GetService<TracerProvider>();
        services.GetService<MeterProvider>();
        var traces = OpenTelemetrySetup.IsOtlpEnabled(configuration, OpenTelemetrySetup.Traces);
        var metrics = OpenTelemetrySetup.IsOtlpEnabled(configuration, OpenTelemetrySetup.Metrics);
        if (traces || metrics)
        {
            // Only scheme, host and port: a URL's user-info part could carry a credential.
            var endpoint = configuration[OpenTelemetrySetup.EndpointKey];
            LogOtlpEnabled(traces, metrics,
                Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Host}:{uri.Port}" : "(per-signal endpoints)");
        }

        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "OTLP export on (traces: {Traces}, metrics: {Metrics}) to {Endpoint}")]
    private partial void LogOtlpEnabled(bool traces, bool metrics, string endpoint);
}

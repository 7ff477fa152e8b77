using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using WebhookConnect.ServiceDefaults.Prometheus;

namespace WebhookConnect.ServiceDefaults.Otlp;

/// <summary>
/// Creates the telemetry providers before the server accepts its first request (StartingAsync runs before any
/// hosted service's StartAsync, Kestrel's included) and disposes them after it has drained its last one
/// (StoppedAsync), so spans of requests finishing during shutdown are still flushed.
/// </summary>
internal sealed partial class TelemetryLifetime(IServiceProvider services, IConfiguration configuration, ILogger<TelemetryLifetime> logger)
    : IHostedLifecycleService
{
    private TracerProvider? _tracerProvider;
    private MeterProvider? _meterProvider;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        services.GetRequiredService<PrometheusMetrics>().Start();
        _tracerProvider = services.GetRequiredService<TracerProvider>();
        _meterProvider = services.GetRequiredService<MeterProvider>();
        var exporterConfiguration = OpenTelemetrySetup.ExporterConfiguration(configuration);
        var traces = OpenTelemetrySetup.IsOtlpEnabled(exporterConfiguration, OpenTelemetrySetup.Traces);
        var metrics = OpenTelemetrySetup.IsOtlpEnabled(exporterConfiguration, OpenTelemetrySetup.Metrics);
        if (traces || metrics)
        {
            // Only scheme, host and port: a URL's user-info part could carry a credential.
            var endpoint = exporterConfiguration[OpenTelemetrySetup.EndpointKey];
            LogOtlpEnabled(traces, metrics,
                Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Host}:{uri.Port}" : "(per-signal endpoints)");
        }

        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        // Dispose flushes: the batch processor exports what it holds, the metric reader does a final collection.
        _tracerProvider?.Dispose();
        _meterProvider?.Dispose();
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "OTLP export on (traces: {Traces}, metrics: {Metrics}) to {Endpoint}")]
    private partial void LogOtlpEnabled(bool traces, bool metrics, string endpoint);
}

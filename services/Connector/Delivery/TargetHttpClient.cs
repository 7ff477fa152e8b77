using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Timeout;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Connector.Telemetry;

namespace WebhookConnect.Connector.Delivery;

/// <summary>
/// The HTTP client that calls targets (<see cref="IHttpClientFactory"/>, named <see cref="Name"/>): one pooled
/// <see cref="SocketsHttpHandler"/> for all targets, and a resilience pipeline that is SPEC §9's local retry policy —
/// <c>retry.attempts</c> more calls after the first, <c>retry.delay</c> doubled each time without jitter, for 5xx,
/// 408, 429, 1xx/3xx, timeouts and connection failures; each attempt limited by its target's <c>timeout</c>; no total
/// timeout, no circuit breaker, no hedging, no rate limiter. Why each setting: docs/connector.md, "HTTP client".
/// </summary>
public static class TargetHttpClient
{
    public const string Name = "targets";

    /// <param name="tracesExported">Whether traces are exported (<see cref="DeliveryTracing.IsExported"/>): decides who
    /// writes the target's <c>traceparent</c>, the handler (the connector's POST span) or the request (the message's).</param>
    public static IServiceCollection AddTargetHttpClient(this IServiceCollection services, bool tracesExported = false)
    {
        services.AddSingleton(new DeliveryTracing(tracesExported));
        services.AddTransient<TargetAttemptHandler>();
        var client = services.AddHttpClient(Name)
            // Each attempt has its target's timeout (the pipeline); HttpClient's own 100 s would cut off the retries of
            // a slow target, or a single call to a target whose timeout is longer.
            .ConfigureHttpClient(http => http.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp => CreateHandler(sp.GetRequiredService<IOptions<ConnectorOptions>>().Value, sp.GetRequiredService<DeliveryTracing>()))
            // One handler for the life of the process; PooledConnectionLifetime renews connections instead (DNS).
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            // The factory's logging handlers write two lines and open a scope per call: per message, at information level.
            .RemoveAllLoggers();
        client.AddResilienceHandler("local-retry", (pipeline, context) =>
            ConfigurePipeline(pipeline, context.ServiceProvider.GetRequiredService<IOptions<ConnectorOptions>>().Value.Retry));

        // Added after the resilience handler, so it sits inside it and runs once per attempt.
        client.AddHttpMessageHandler<TargetAttemptHandler>();
        return services;
    }

    /// <summary>SPEC §9's local retries. The retry strategy is outside the timeout strategy, so the timeout is per
    /// attempt and a timed-out attempt is retried.</summary>
    internal static void ConfigurePipeline(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, LocalRetryOptions retry)
    {
        // No Polly telemetry: per call it reports three events (pipeline start and end, the attempt), boxing the
        // status for its log formatter even when nothing listens, and logs each local retry as a warning, where the
        // connector logs the one nack with its reason. Its "Polly" meter is not exported (ConnectorExtensions), and
        // TargetAttemptHandler measures every attempt. docs/connector.md, "HTTP client".
        pipeline.TelemetryListener = null;
        if (retry.Attempts > 0)
        {
            pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = retry.Attempts,
                Delay = retry.Delay,
                BackoffType = DelayBackoffType.Exponential,
                // One target, one caller: nothing to de-synchronise, and the waits stay predictable.
                UseJitter = false,
                // Short and local: a target's Retry-After (say an hour) is the cloud's backoff to honour, after the nack.
                ShouldRetryAfterHeader = false,
                ShouldHandle = static args => ValueTask.FromResult(IsRetried(args.Outcome)),
            });
        }

        pipeline.AddTimeout(new TimeoutStrategyOptions
        {
            TimeoutGenerator = static args => ValueTask.FromResult(((TargetRequestMessage)args.Context.GetRequestMessage()!).Timeout),
        });
    }

    internal static bool IsRetried(Outcome<HttpResponseMessage> outcome) => outcome switch
    {
        { Exception: TimeoutRejectedException or HttpRequestException } => true,
        { Result: { } response } => StatusMapping.OutcomeOf(response.StatusCode) == DeliveryOutcome.Retry,
        _ => false,
    };

    private static SocketsHttpHandler CreateHandler(ConnectorOptions options, DeliveryTracing tracing) => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        MaxConnectionsPerServer = options.TargetMaxConnections == 0 ? int.MaxValue : options.TargetMaxConnections,
        // Original header values are bytes; Latin-1 sends each char back as the byte it came from.
        RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1,
        // Traces exported: the handler writes the context of the connector's POST span (a child of its delivery
        // span), so the target's own spans join the webhook's trace below that call (OpenTelemetry's HttpClient
        // instrumentation writes the same header too). Not exported: the message's traceparent is forwarded as is
        // (TargetRequest) and the handler must not replace it with a context of its own that no one records.
        ActivityHeadersPropagator = tracing.Exported ? DistributedContextPropagator.Current : DistributedContextPropagator.CreateNoOutputPropagator(),
    };
}

using System.Diagnostics;
using System.Diagnostics.Metrics;
using WebhookConnect.Ingress.Endpoints;
using WebhookConnect.Ingress.Intake;
using WebhookConnect.Ingress.Spool;

namespace WebhookConnect.Ingress.Telemetry;

/// <summary>
/// Ingress' SPEC §10 metrics: <c>webhookconnect_ingress_requests_total{endpoint,code}</c>,
/// <c>webhookconnect_publish_duration_seconds{outcome}</c> (as ingress sees it, network included),
/// <c>webhookconnect_ingress_spool_messages</c>, plus replayed and dropped spool counters and the body bytes held.
/// </summary>
public sealed class IngressMetrics
{
    /// <summary>The endpoint label of requests for an unknown endpoint (the URL is the sender's choice: never a label).</summary>
    public const string UnknownEndpoint = "unknown";

    public static readonly ActivitySource Source = new(ServiceDefaults.Telemetry.ActivitySourceName("Ingress"));

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _publishDuration;
    private readonly Counter<long> _replayed;
    private readonly Counter<long> _dropped;

    public IngressMetrics(IMeterFactory meterFactory, SpoolFile spool, EndpointCache endpoints, BodyIntake bodies)
    {
        var meter = meterFactory.Create(ServiceDefaults.Telemetry.MeterName("Ingress"));
        _requests = meter.CreateCounter<long>("webhookconnect.ingress.requests", description: "Webhook requests answered, by endpoint and HTTP status code.");
        _publishDuration = meter.CreateHistogram<double>("webhookconnect.publish.duration", unit: "s", description: "Time from handing a message to the queue-manager to its answer, by outcome.", advice: ServiceDefaults.Telemetry.SecondsHistogramAdvice);
        _replayed = meter.CreateCounter<long>("webhookconnect.ingress.spool.replayed", description: "Spooled messages the queue has accepted.");
        _dropped = meter.CreateCounter<long>("webhookconnect.ingress.spool.dropped", description: "Spooled messages the queue refused for good (channel deleted, too large).");
        meter.CreateObservableGauge("webhookconnect.ingress.spool.messages", () => spool.Depth, description: "Messages in the spool waiting to be replayed.");
        meter.CreateObservableGauge("webhookconnect.ingress.body_in_flight", () => bodies.Budget.Held, unit: "By", description: "Body bytes held in memory by requests being read, verified or published (at most Ingress:MaxBodyBytesInFlight).");
        // Compare with ListEndpoints' revision to tell whether this replica has seen an admin change yet.
        meter.CreateObservableGauge("webhookconnect.ingress.endpoint_table.revision", () => (long)endpoints.Revision, description: "Revision of the endpoint table this replica routes with.");
    }

    public void Request(string endpoint, int code) =>
        _requests.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("code", CodeText(code)));

    public void Published(string outcome, TimeSpan duration) =>
        _publishDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));

    public void Replayed() => _replayed.Add(1);

    public void Dropped() => _dropped.Add(1);

    private static string CodeText(int code) => code switch
    {
        200 => "200",
        202 => "202",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => code.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

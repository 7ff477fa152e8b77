using System.Net;

namespace WebhookConnect.Connector.Delivery;

/// <summary>
/// SPEC §9's mapping of a target's status to what queue-manager is told, written once: the retry predicate of the
/// resilience pipeline, the per-call metric and the final ack / nack all read it.
/// </summary>
public static class StatusMapping
{
    /// <summary>2xx → ack; 4xx except 408 and 429 → nack(retry=false); 5xx, 408, 429, and 1xx/3xx (redirects are not
    /// followed, so a 3xx is an answer that did not take the message) → local retries, then nack(retry=true).</summary>
    public static DeliveryOutcome OutcomeOf(HttpStatusCode statusCode) => (int)statusCode switch
    {
        >= 200 and < 300 => DeliveryOutcome.Acked,
        408 or 429 => DeliveryOutcome.Retry,
        >= 400 and < 500 => DeliveryOutcome.Rejected,
        _ => DeliveryOutcome.Retry,
    };
}

namespace WebhookConnect.Connector.Delivery;

/// <summary>What to tell queue-manager about one delivery (SPEC §9).</summary>
public enum DeliveryOutcome
{
    /// <summary>2xx: ack.</summary>
    Acked,

    /// <summary>4xx other than 408/429, or no target: nack(retry=false), the message is dead-lettered.</summary>
    Rejected,

    /// <summary>5xx, 408, 429, timeout, connection failure after the local retries: nack(retry=true).</summary>
    Retry,
}

/// <param name="StatusCode">The target's HTTP status; 0 when there was no response.</param>
/// <param name="Reason">For the nack: "HTTP 404: &lt;body excerpt&gt;", "timeout after …", "no target for endpoint …".</param>
/// <param name="TargetDuration">From sending the request to the target's answer (its headers for a 2xx, the excerpt
/// read otherwise) or failure; null when no request was sent. Reported to queue-manager for the message history.</param>
public readonly record struct DeliveryResult(DeliveryOutcome Outcome, int StatusCode, string Reason, TimeSpan? TargetDuration = null)
{
    /// <summary>Metric label.</summary>
    public string Label => Outcome switch
    {
        DeliveryOutcome.Acked => "acked",
        DeliveryOutcome.Rejected => "rejected",
        _ => "retry",
    };
}

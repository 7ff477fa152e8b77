using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Admission;
using WebhookConnect.Ingress.Verification;

namespace WebhookConnect.Ingress.Endpoints;

/// <summary>One endpoint as ingress admits requests to it: its route plus the parsed rules, built once per change.</summary>
public sealed class CachedEndpoint
{
    public CachedEndpoint(EndpointRoute route, CachedEndpoint? previous)
    {
        Route = route;
        Channel = route.Channel;
        Namespace = route.Endpoint.Namespace;
        Id = route.Endpoint.Id;
        Label = Namespace.Length == 0 ? Id : Namespace + "/" + Id;
        MaxMessageBytes = route.MaxMessageBytes;
        Verifier = Presets.Create(route.Endpoint.Verification);
        Source = SourceAddress.From(route.Endpoint.IpAllowlist);
        IdempotencyHeader = route.Endpoint.IdempotencyHeader;
        // The bucket survives a table refresh that left the limit alone, so a refresh never hands out a new burst.
        RateLimiter = TokenBucket.For(route.Endpoint.RateLimit, previous?.RateLimiter);
    }

    public EndpointRoute Route { get; }

    public string Channel { get; }

    public string Namespace { get; }

    public string Id { get; }

    /// <summary><c>id</c> or <c>namespace/id</c>: the metric label and log name.</summary>
    public string Label { get; }

    /// <summary>The channel's <c>max_message_bytes</c> (0: not given, the ingress limit applies).</summary>
    public uint MaxMessageBytes { get; }

    public IVerifier? Verifier { get; }

    public SourceAddress Source { get; }

    public TokenBucket? RateLimiter { get; }

    public string IdempotencyHeader { get; }
}

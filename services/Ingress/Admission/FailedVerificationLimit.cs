using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace WebhookConnect.Ingress.Admission;

/// <summary>
/// The limit before verification (<c>Ingress:FailedVerificationBurst</c>, <c>Ingress:FailedVerificationsPerSecond</c>):
/// a token bucket per (endpoint, source) that only failed verifications spend. Once a source has spent it on an
/// endpoint, its requests to that endpoint get 429 + <c>Retry-After</c> before their bodies are read or verified.
/// </summary>
/// <remarks>
/// Only failures are charged, not every request: a genuine sender whose signatures verify never spends it, however
/// fast it sends (its own rate is the endpoint's rate limit, charged after verification), so this limit can be
/// strict without refusing anyone legitimate. Keyed by endpoint too, so that one misconfigured endpoint (a provider
/// signing with an old secret) does not shut that provider's addresses out of every other endpoint. IPv6 sources
/// count by their /64, the block one subscriber usually holds. The buckets are
/// <c>System.Threading.RateLimiting</c>'s partitioned token buckets; a bucket that has been full for 10 s is dropped,
/// so what a source leaves behind is freed within about <c>burst / rate + 10 s</c>.
/// </remarks>
public sealed class FailedVerificationLimit : IDisposable
{
    private readonly PartitionedRateLimiter<Key>? _limiter;
    private readonly TimeSpan _retryAfter;

    public FailedVerificationLimit(IOptions<IngressOptions> options)
    {
        var settings = options.Value;
        _retryAfter = TimeSpan.FromSeconds(1 / settings.FailedVerificationsPerSecond);
        if (settings.FailedVerificationBurst <= 0)
        {
            return;
        }

        var bucket = new TokenBucketRateLimiterOptions
        {
            TokenLimit = settings.FailedVerificationBurst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = _retryAfter,
            // The partitioned limiter replenishes its buckets from one timer; a timer per bucket would not scale.
            AutoReplenishment = false,
            QueueLimit = 0,
        };
        _limiter = PartitionedRateLimiter.Create<Key, Key>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => bucket));
    }

    /// <summary>Whether this source has no failures left to spend on this endpoint; then, when to come back.</summary>
    public bool IsRefused(string endpoint, IPAddress? source, out TimeSpan retryAfter)
    {
        retryAfter = _retryAfter;
        // A look, not a charge: a bucket between 0 and 1 token has nothing to spend.
        return _limiter is not null && _limiter.GetStatistics(KeyOf(endpoint, source))?.CurrentAvailablePermits < 1;
    }

    /// <summary>Spends one token of this source's bucket for this endpoint (its verification failed).</summary>
    public void Charge(string endpoint, IPAddress? source) => _limiter?.AttemptAcquire(KeyOf(endpoint, source)).Dispose();

    public void Dispose() => _limiter?.Dispose();

    private static Key KeyOf(string endpoint, IPAddress? source)
    {
        if (source is { AddressFamily: AddressFamily.InterNetworkV6 })
        {
            Span<byte> bytes = stackalloc byte[16];
            source.TryWriteBytes(bytes, out _);
            bytes[8..].Clear();
            source = new IPAddress(bytes);
        }

        return new Key(endpoint, source);
    }

    /// <summary>An endpoint label and a source (an IPv6 one cut to its /64; null when the peer is unknown).</summary>
    public readonly record struct Key(string Endpoint, IPAddress? Source);
}

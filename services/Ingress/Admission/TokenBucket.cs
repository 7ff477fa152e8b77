using System.Diagnostics;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Ingress.Admission;

/// <summary>
/// The per-endpoint rate limit (channel.proto <c>RateLimit</c>): a token bucket of <c>burst</c> tokens refilled at
/// <c>requests_per_second</c>. Per ingress process: with N replicas an endpoint admits up to N times the rate. Only
/// requests that passed verification take a token, so whoever knows the URL but not the secret cannot empty it.
/// </summary>
public sealed class TokenBucket
{
    private readonly Lock _gate = new();
    private readonly double _rate;
    private readonly double _capacity;
    private double _tokens;
    private long _updated;

    public TokenBucket(RateLimit limit)
    {
        _rate = limit.RequestsPerSecond;
        _capacity = limit.Burst > 0 ? limit.Burst : Math.Max(1, Math.Ceiling(limit.RequestsPerSecond));
        _tokens = _capacity;
        _updated = Stopwatch.GetTimestamp();
        Limit = limit;
    }

    public RateLimit Limit { get; }

    /// <summary>Takes a token, or says how long until one is available.</summary>
    public bool TryTake(out TimeSpan retryAfter) => Check(take: true, out retryAfter);

    /// <summary>Whether a token is available now, without taking it (a request that would be refused anyway is
    /// refused before its body is read; only a verified request takes one).</summary>
    public bool CanTake(out TimeSpan retryAfter) => Check(take: false, out retryAfter);

    private bool Check(bool take, out TimeSpan retryAfter)
    {
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp();
            _tokens = Math.Min(_capacity, _tokens + (Stopwatch.GetElapsedTime(_updated, now).TotalSeconds * _rate));
            _updated = now;
            if (_tokens >= 1)
            {
                _tokens -= take ? 1 : 0;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - _tokens) / _rate);
            return false;
        }
    }

    /// <summary>A limiter for a rate limit, or null when the endpoint has none (or a non-positive rate).</summary>
    public static TokenBucket? For(RateLimit? limit, TokenBucket? previous) =>
        limit is null || !(limit.RequestsPerSecond > 0) ? null
        : previous is not null && previous.Limit.Equals(limit) ? previous
        : new TokenBucket(limit);
}

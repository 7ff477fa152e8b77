namespace WebhookConnect.Connector.Streams;

/// <summary>
/// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): after the n-th
/// failed attempt in a row the wait is uniform in [0, min(max, initial · 2ⁿ⁻¹)]. Full jitter spreads a fleet of
/// connectors that lost the same queue-manager replica, so they do not come back in lockstep. A healthy stream
/// resets the sequence (<see cref="Reset"/>). Not thread-safe: one per stream loop.
/// </summary>
public sealed class ReconnectBackoff(TimeSpan initial, TimeSpan max, Random random)
{
    private int _failures;

    /// <summary>Failed attempts since the last reset.</summary>
    public int Failures => _failures;

    /// <summary>The upper bound for the wait after <paramref name="failures"/> failures in a row (1 = the first).</summary>
    public TimeSpan Bound(int failures)
    {
        var exponent = Math.Clamp(failures - 1, 0, 30);
        var ticks = Math.Min((double)max.Ticks, initial.Ticks * Math.Pow(2, exponent));
        return TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>Counts one more failure and returns how long to wait before the next attempt.</summary>
    public TimeSpan NextDelay()
    {
        _failures++;
        return TimeSpan.FromTicks((long)(random.NextDouble() * Bound(_failures).Ticks));
    }

    public void Reset() => _failures = 0;
}

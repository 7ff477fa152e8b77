using WebhookConnect.Connector.Streams;

namespace WebhookConnect.Connector.Tests;

/// <summary>SPEC §9: exponential backoff with full jitter, 1 s → 60 s, reset after a healthy stream.</summary>
public sealed class BackoffTests
{
    private static readonly TimeSpan Initial = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(60);

    [Fact]
    public void TheBoundDoublesFromOneSecondUpToSixtySeconds()
    {
        var backoff = new ReconnectBackoff(Initial, Max, new Random(1));
        var bounds = Enumerable.Range(1, 10).Select(n => backoff.Bound(n).TotalSeconds);
        Assert.Equal([1, 2, 4, 8, 16, 32, 60, 60, 60, 60], bounds);
        Assert.Equal(60, backoff.Bound(1000).TotalSeconds);
    }

    [Fact]
    public void EveryDelayLiesBetweenZeroAndTheBoundOfItsAttempt()
    {
        for (var seed = 0; seed < 200; seed++)
        {
            var backoff = new ReconnectBackoff(Initial, Max, new Random(seed));
            for (var attempt = 1; attempt <= 12; attempt++)
            {
                var delay = backoff.NextDelay();
                Assert.InRange(delay, TimeSpan.Zero, backoff.Bound(attempt));
                Assert.Equal(attempt, backoff.Failures);
            }
        }
    }

    [Fact]
    public void TheJitterIsFullSoDelaysSpreadOverTheWholeRange()
    {
        // Full jitter: uniform in [0, bound]. Over many connectors the first waits cover the range evenly,
        // unlike "equal jitter" (bound/2 + …) or none, which would put them all in the upper half or on one value.
        var random = new Random(42);
        var firsts = Enumerable.Range(0, 2000).Select(_ => new ReconnectBackoff(Initial, Max, random).NextDelay().TotalSeconds).ToList();
        Assert.InRange(firsts.Average(), 0.45, 0.55);
        Assert.InRange(firsts.Count(s => s < 0.25) / 2000.0, 0.2, 0.3);
        Assert.InRange(firsts.Count(s => s > 0.75) / 2000.0, 0.2, 0.3);
        Assert.InRange(firsts.Distinct().Count(), 1990, 2000);
    }

    [Fact]
    public void AResetStartsTheSequenceOverAtOneSecond()
    {
        var backoff = new ReconnectBackoff(Initial, Max, new Random(7));
        for (var i = 0; i < 8; i++)
        {
            backoff.NextDelay();
        }

        backoff.Reset();
        Assert.Equal(0, backoff.Failures);
        Assert.InRange(backoff.NextDelay(), TimeSpan.Zero, Initial);
    }
}

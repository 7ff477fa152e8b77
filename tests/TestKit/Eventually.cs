using System.Diagnostics;

namespace WebhookConnect.TestKit;

/// <summary>
/// Waiting for a condition that becomes true asynchronously (a counter on a remote server, a file on disk),
/// always with a deadline so a broken test fails with a message instead of hanging.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls <paramref name="condition"/> until it returns true or <paramref name="timeout"/> passes.</summary>
    /// <exception cref="TimeoutException">The condition never held; the message names <paramref name="what"/>.</exception>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? pollInterval = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        var interval = pollInterval ?? DefaultPollInterval;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero, nameof(pollInterval));

        // A monotonic clock: wall-clock adjustments must not stretch or cut the deadline.
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition().ConfigureAwait(false))
            {
                return;
            }

            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for {what}");
            }

            // The last wait is shortened so that the condition is checked once more right at the deadline.
            await Task.Delay(left < interval ? left : interval).ConfigureAwait(false);
        }
    }

    /// <inheritdoc cref="UntilAsync(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, TimeSpan? pollInterval = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return UntilAsync(() => Task.FromResult(condition()), timeout, what, pollInterval);
    }

    /// <summary>Polls <paramref name="probe"/> until it returns a value, which it returns; fails like
    /// <see cref="UntilAsync(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/> at the deadline (10 s unless given).</summary>
    public static async Task<T> GetAsync<T>(Func<Task<T?>> probe, string what, TimeSpan? timeout = null)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(probe);
        T? value = null;
        await UntilAsync(async () => (value = await probe().ConfigureAwait(false)) is not null, timeout ?? TimeSpan.FromSeconds(10), what).ConfigureAwait(false);
        return value!;
    }
}

using System.Collections.Concurrent;

namespace WebhookConnect.QueueManager.Streams.Http1;

/// <summary>
/// The channel of each poll connection this replica answered with messages, for as long as its messages can be
/// acked (the same lifetime as its <c>wc:poll-connection:{id}</c> key in Redis), so <c>POST /connect/ack</c> after a
/// poll answered here needs no Redis read to find the channel. Redis stays the truth: a connection this replica does
/// not know (answered by another replica, or forgotten) is looked up there. Hand-written rather than
/// <c>IMemoryCache</c>: a dictionary with absolute expiry and a hard bound is all it needs, and it adds no
/// background timer.
/// </summary>
public sealed class PollConnections(TimeProvider time)
{
    /// <summary>Beyond this many remembered connections, expired ones are dropped; if none expired, nothing new is
    /// remembered (Redis answers for those).</summary>
    public const int MaxRemembered = 100_000;

    private readonly ConcurrentDictionary<string, (string Channel, long ExpiresAtTicks)> _channels = new(StringComparer.Ordinal);

    public void Remember(string connectionId, string channel, TimeSpan lifetime)
    {
        var now = time.GetUtcNow().UtcTicks;
        if (_channels.Count >= MaxRemembered)
        {
            foreach (var (id, entry) in _channels)
            {
                if (entry.ExpiresAtTicks <= now)
                {
                    _channels.TryRemove(id, out _);
                }
            }

            if (_channels.Count >= MaxRemembered)
            {
                return;
            }
        }

        _channels[connectionId] = (channel, now + lifetime.Ticks);
    }

    public bool TryGetChannel(string connectionId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? channel)
    {
        if (_channels.TryGetValue(connectionId, out var entry) && entry.ExpiresAtTicks > time.GetUtcNow().UtcTicks)
        {
            channel = entry.Channel;
            return true;
        }

        channel = null;
        return false;
    }
}

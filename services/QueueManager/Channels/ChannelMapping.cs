using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using StackExchange.Redis;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.QueueManager.Channels;

/// <summary>
/// Between the stored form of a channel (the config hash read by <see cref="ChannelConfig.FromHash"/>) and its
/// API form (<see cref="ChannelSettings"/>, <see cref="ChannelInfo"/>).
/// </summary>
public static class ChannelMapping
{
    /// <summary>Every field of the config hash, so that readers never depend on defaults in code.</summary>
    public static HashEntry[] ToHash(ChannelConfig c)
    {
        var entries = new List<HashEntry>(19)
        {
            new(ChannelFields.TtlMs, Ms(c.Ttl)),
            new(ChannelFields.MaxQueueSize, c.MaxQueueSize),
            new(ChannelFields.MaxMessageBytes, c.MaxMessageBytes),
            new(ChannelFields.MaxConnections, c.MaxConnections),
            new(ChannelFields.MaxInFlight, c.MaxInFlight),
            new(ChannelFields.AckTimeoutMs, Ms(c.AckTimeout)),
            new(ChannelFields.MaxDeliveryAttempts, c.MaxDeliveryAttempts),
            new(ChannelFields.BackoffInitialMs, Ms(c.BackoffInitial)),
            new(ChannelFields.BackoffMultiplier, c.BackoffMultiplier.ToString("R", CultureInfo.InvariantCulture)),
            new(ChannelFields.BackoffMaxMs, Ms(c.BackoffMax)),
            new(ChannelFields.BackoffJitter, c.BackoffJitter.ToString("R", CultureInfo.InvariantCulture)),
            new(ChannelFields.DeadLetterExpired, c.DeadLetterExpired ? 1 : 0),
            new(ChannelFields.Paused, c.Paused ? 1 : 0),
            new(ChannelFields.CreatedMs, c.CreatedAt.ToUnixTimeMilliseconds()),
            new(ChannelFields.UpdatedMs, c.UpdatedAt.ToUnixTimeMilliseconds()),
            new(ChannelFields.TokenHash, c.TokenHash),
            new(ChannelFields.TokenIssuedMs, c.TokenIssuedAt.ToUnixTimeMilliseconds()),
            new(ChannelFields.HistoryRetentionMs, Ms(c.HistoryRetention)),
            new(ChannelFields.HistoryMaxBytes, c.HistoryMaxBytes),
        };
        if (c.MaxQueueBytes is { } budget)
        {
            entries.Add(new(ChannelFields.MaxQueueBytes, budget));
        }

        if (c.PreviousTokenExpiresAt is { } expires)
        {
            entries.Add(new(ChannelFields.PreviousTokenHash, c.PreviousTokenHash));
            entries.Add(new(ChannelFields.PreviousTokenExpiresMs, expires.ToUnixTimeMilliseconds()));
        }

        return [.. entries];
    }

    /// <summary>Effective settings: every field present.</summary>
    public static ChannelSettings ToSettings(ChannelConfig c) => new()
    {
        Ttl = Duration.FromTimeSpan(c.Ttl),
        MaxQueueSize = (uint)c.MaxQueueSize,
        MaxMessageBytes = (uint)c.MaxMessageBytes,
        MaxConnections = (uint)c.MaxConnections,
        MaxInFlight = (uint)c.MaxInFlight,
        AckTimeout = Duration.FromTimeSpan(c.AckTimeout),
        MaxDeliveryAttempts = (uint)c.MaxDeliveryAttempts,
        RetryBackoff = new RetryBackoff
        {
            Initial = Duration.FromTimeSpan(c.BackoffInitial),
            Multiplier = c.BackoffMultiplier,
            Max = Duration.FromTimeSpan(c.BackoffMax),
            Jitter = c.BackoffJitter,
        },
        DeadLetterExpired = c.DeadLetterExpired,
        Paused = c.Paused,
        MaxQueueBytes = (ulong)(c.MaxQueueBytes ?? ChannelDefaults.MaxQueueBytes),
        HistoryRetention = Duration.FromTimeSpan(c.HistoryRetention),
        HistoryMaxBytes = (ulong)c.HistoryMaxBytes,
    };

    /// <summary>The admin view: effective settings, endpoints ordered by URL with secrets blanked, timestamps.</summary>
    public static ChannelInfo ToInfo(ChannelConfig c, IEnumerable<EndpointConfig> endpoints, DateTimeOffset now)
    {
        var info = new ChannelInfo
        {
            Name = c.Name,
            Settings = ToSettings(c),
            CreatedAt = Timestamp.FromDateTimeOffset(c.CreatedAt),
            UpdatedAt = Timestamp.FromDateTimeOffset(c.UpdatedAt),
            TokenIssuedAt = Timestamp.FromDateTimeOffset(c.TokenIssuedAt),
        };
        if (c.PreviousTokenExpiresAt is { } expires && expires > now)
        {
            info.PreviousTokenExpiresAt = Timestamp.FromDateTimeOffset(expires);
        }

        info.Endpoints.AddRange(endpoints.OrderBy(EndpointSecrets.Field, StringComparer.Ordinal).Select(EndpointSecrets.Redacted));
        return info;
    }

    private static long Ms(TimeSpan value) => (long)value.TotalMilliseconds;
}

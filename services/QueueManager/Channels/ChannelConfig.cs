using System.Globalization;
using StackExchange.Redis;

namespace WebhookConnect.QueueManager.Channels;

/// <summary>Field names of a channel's config hash (<c>wc:{name}:channel</c>). Lua scripts read the same names.
/// Durations are stored in milliseconds, flags as 0/1, timestamps as unix milliseconds.</summary>
public static class ChannelFields
{
    public const string TtlMs = "ttl_ms";
    public const string MaxQueueSize = "max_queue_size";
    public const string MaxMessageBytes = "max_message_bytes";
    public const string MaxConnections = "max_connections";
    public const string MaxInFlight = "max_in_flight";
    public const string AckTimeoutMs = "ack_timeout_ms";
    public const string MaxDeliveryAttempts = "max_delivery_attempts";
    public const string BackoffInitialMs = "backoff_initial_ms";
    public const string BackoffMultiplier = "backoff_multiplier";
    public const string BackoffMaxMs = "backoff_max_ms";
    public const string BackoffJitter = "backoff_jitter";
    public const string DeadLetterExpired = "dead_letter_expired";
    public const string Paused = "paused";
    /// <summary>The byte budget; absent in channels stored before it existed (the queue-manager default applies).</summary>
    public const string MaxQueueBytes = "max_queue_bytes";
    /// <summary>History settings (docs/history.md); absent in channels stored before history existed: the defaults in
    /// <see cref="ChannelDefaults"/> apply (the Lua scripts carry the same numbers, common.lua and publish.lua).</summary>
    public const string HistoryRetentionMs = "history_retention_ms";
    public const string HistoryMaxBytes = "history_max_bytes";
    public const string CreatedMs = "created_ms";
    public const string UpdatedMs = "updated_ms";
    /// <summary>Lower-case hex SHA-256 of the current connector token.</summary>
    public const string TokenHash = "token_hash";
    public const string TokenIssuedMs = "token_issued_ms";
    /// <summary>Hex SHA-256 of the previous token; absent when none is valid.</summary>
    public const string PreviousTokenHash = "prev_token_hash";
    public const string PreviousTokenExpiresMs = "prev_token_expires_ms";
}

/// <summary>The effective settings of a channel as stored in Redis: what the queue engine and the Connect
/// stream need. Read with <see cref="FromHash"/>; the admin side (ChannelStore) writes it.</summary>
public sealed record ChannelConfig
{
    public required string Name { get; init; }
    public TimeSpan Ttl { get; init; } = ChannelDefaults.Ttl;
    public int MaxQueueSize { get; init; } = ChannelDefaults.MaxQueueSize;
    public int MaxMessageBytes { get; init; } = ChannelDefaults.MaxMessageBytes;
    public int MaxConnections { get; init; } = ChannelDefaults.MaxConnections;
    public int MaxInFlight { get; init; } = ChannelDefaults.MaxInFlight;
    public TimeSpan AckTimeout { get; init; } = ChannelDefaults.AckTimeout;
    public int MaxDeliveryAttempts { get; init; } = ChannelDefaults.MaxDeliveryAttempts;
    public TimeSpan BackoffInitial { get; init; } = ChannelDefaults.BackoffInitial;
    public double BackoffMultiplier { get; init; } = ChannelDefaults.BackoffMultiplier;
    public TimeSpan BackoffMax { get; init; } = ChannelDefaults.BackoffMax;
    public double BackoffJitter { get; init; } = ChannelDefaults.BackoffJitter;
    public bool DeadLetterExpired { get; init; }
    public bool Paused { get; init; }
    /// <summary>The byte budget (<c>max_queue_bytes</c>); null when the stored channel predates it, in which case
    /// <c>QueueManager:DefaultMaxQueueBytes</c> applies (publish.lua and <c>ChannelStore</c> fill it in).</summary>
    public long? MaxQueueBytes { get; init; }
    public TimeSpan HistoryRetention { get; init; } = ChannelDefaults.HistoryRetention;
    public long HistoryMaxBytes { get; init; } = ChannelDefaults.HistoryMaxBytes;
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public string TokenHash { get; init; } = "";
    public DateTimeOffset TokenIssuedAt { get; init; }
    public string PreviousTokenHash { get; init; } = "";
    /// <summary>When the previous token stops being accepted; null when there is none.</summary>
    public DateTimeOffset? PreviousTokenExpiresAt { get; init; }

    /// <summary>Reads the config hash; null when the channel does not exist (empty hash).</summary>
    public static ChannelConfig? FromHash(string name, HashEntry[] entries)
    {
        if (entries.Length == 0)
        {
            return null;
        }

        var fields = new Dictionary<string, string>(entries.Length, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            fields[entry.Name!] = entry.Value!;
        }

        return new ChannelConfig
        {
            Name = name,
            Ttl = Ms(fields, ChannelFields.TtlMs, ChannelDefaults.Ttl),
            MaxQueueSize = Int(fields, ChannelFields.MaxQueueSize, ChannelDefaults.MaxQueueSize),
            MaxMessageBytes = Int(fields, ChannelFields.MaxMessageBytes, ChannelDefaults.MaxMessageBytes),
            MaxConnections = Int(fields, ChannelFields.MaxConnections, ChannelDefaults.MaxConnections),
            MaxInFlight = Int(fields, ChannelFields.MaxInFlight, ChannelDefaults.MaxInFlight),
            AckTimeout = Ms(fields, ChannelFields.AckTimeoutMs, ChannelDefaults.AckTimeout),
            MaxDeliveryAttempts = Int(fields, ChannelFields.MaxDeliveryAttempts, ChannelDefaults.MaxDeliveryAttempts),
            BackoffInitial = Ms(fields, ChannelFields.BackoffInitialMs, ChannelDefaults.BackoffInitial),
            BackoffMultiplier = Double(fields, ChannelFields.BackoffMultiplier, ChannelDefaults.BackoffMultiplier),
            BackoffMax = Ms(fields, ChannelFields.BackoffMaxMs, ChannelDefaults.BackoffMax),
            BackoffJitter = Double(fields, ChannelFields.BackoffJitter, ChannelDefaults.BackoffJitter),
            DeadLetterExpired = Int(fields, ChannelFields.DeadLetterExpired, 0) != 0,
            Paused = Int(fields, ChannelFields.Paused, 0) != 0,
            MaxQueueBytes = fields.TryGetValue(ChannelFields.MaxQueueBytes, out var budget)
                && long.TryParse(budget, NumberStyles.Integer, CultureInfo.InvariantCulture, out var bytes) ? bytes : null,
            HistoryRetention = Ms(fields, ChannelFields.HistoryRetentionMs, ChannelDefaults.HistoryRetention),
            HistoryMaxBytes = fields.TryGetValue(ChannelFields.HistoryMaxBytes, out var historyBudget)
                && long.TryParse(historyBudget, NumberStyles.Integer, CultureInfo.InvariantCulture, out var historyBytes) ? historyBytes : ChannelDefaults.HistoryMaxBytes,
            CreatedAt = Time(fields, ChannelFields.CreatedMs) ?? DateTimeOffset.UnixEpoch,
            UpdatedAt = Time(fields, ChannelFields.UpdatedMs) ?? DateTimeOffset.UnixEpoch,
            TokenHash = fields.GetValueOrDefault(ChannelFields.TokenHash, ""),
            TokenIssuedAt = Time(fields, ChannelFields.TokenIssuedMs) ?? DateTimeOffset.UnixEpoch,
            PreviousTokenHash = fields.GetValueOrDefault(ChannelFields.PreviousTokenHash, ""),
            PreviousTokenExpiresAt = Time(fields, ChannelFields.PreviousTokenExpiresMs),
        };
    }

    private static int Int(Dictionary<string, string> fields, string name, int fallback) =>
        fields.TryGetValue(name, out var text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    private static double Double(Dictionary<string, string> fields, string name, double fallback) =>
        fields.TryGetValue(name, out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    private static TimeSpan Ms(Dictionary<string, string> fields, string name, TimeSpan fallback) =>
        fields.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? TimeSpan.FromMilliseconds(value)
            : fallback;

    private static DateTimeOffset? Time(Dictionary<string, string> fields, string name) =>
        fields.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? DateTimeOffset.FromUnixTimeMilliseconds(value)
            : null;
}

/// <summary>The defaults of SPEC §3, in one place.</summary>
public static class ChannelDefaults
{
    public static readonly TimeSpan Ttl = TimeSpan.FromHours(24);
    public const int MaxQueueSize = 10_000;
    public const int MaxMessageBytes = 10 * 1024 * 1024;
    public const int MaxConnections = 10;
    public const int MaxInFlight = 100;
    public static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(30);
    public const int MaxDeliveryAttempts = 10;
    public static readonly TimeSpan BackoffInitial = TimeSpan.FromSeconds(1);
    public const double BackoffMultiplier = 2.0;
    public static readonly TimeSpan BackoffMax = TimeSpan.FromMinutes(5);
    public const double BackoffJitter = 0.2;
    public static readonly TimeSpan TokenGracePeriod = TimeSpan.FromHours(1);

    /// <summary>
    /// Default of <c>QueueManager:DefaultMaxQueueBytes</c>: 256 MiB per channel. Enough for a full queue of
    /// 10 000 messages of 26 KiB (webhooks are typically 1–20 KiB), while a few channels flooded by anonymous
    /// senders cannot fill a laptop's or a small instance's Redis (4 channels = 1 GiB). A channel that receives
    /// big payloads raises it; SPEC's old bound (10 000 × 10 MiB = 100 GB) was no bound at all.
    /// </summary>
    public const long MaxQueueBytes = 256L * 1024 * 1024;

    /// <summary>Smallest and largest byte budget a channel may be given.</summary>
    public const long MinQueueBytes = 1024;
    public const long MaxQueueBytesLimit = 1L << 40;

    /// <summary>History (docs/history.md): a day of messages, enough to answer "did yesterday's event arrive"; at most
    /// 30 days. 0 turns it off.</summary>
    public static readonly TimeSpan HistoryRetention = TimeSpan.FromHours(24);
    public static readonly TimeSpan HistoryRetentionLimit = TimeSpan.FromDays(30);

    /// <summary>64 MiB of settled messages per channel (some thousands of typical webhooks), a quarter of the default
    /// queue budget: history is a convenience and must not crowd out the queue in a shared Redis.</summary>
    public const long HistoryMaxBytes = 64L * 1024 * 1024;
}

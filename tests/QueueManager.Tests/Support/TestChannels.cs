using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests.Support;

/// <summary>Creates channels for queue tests by writing the config hash the way the channel store does
/// (the layout documented in docs/queue-manager.md).</summary>
public static class TestChannels
{
    private static int _counter;

    public static string UniqueName(string prefix) =>
        $"{prefix}-{Interlocked.Increment(ref _counter).ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Creates a channel and returns its token. Settings are config-hash fields (ttl_ms, max_in_flight, …).</summary>
    public static async Task<string> CreateAsync(RedisServer redis, string channel, IReadOnlyDictionary<string, string>? settings = null)
    {
        var token = "wct_test_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var fields = new Dictionary<string, string>
        {
            ["ttl_ms"] = "86400000",
            ["max_queue_size"] = "10000",
            ["max_message_bytes"] = "10485760",
            ["max_connections"] = "10",
            ["max_in_flight"] = "100",
            ["ack_timeout_ms"] = "30000",
            ["max_delivery_attempts"] = "10",
            ["backoff_initial_ms"] = "1000",
            ["backoff_multiplier"] = "2",
            ["backoff_max_ms"] = "300000",
            ["backoff_jitter"] = "0.2",
            ["dead_letter_expired"] = "0",
            ["paused"] = "0",
            ["created_ms"] = now,
            ["updated_ms"] = now,
            ["token_hash"] = Hash(token),
            ["token_issued_ms"] = now,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            fields[key] = value;
        }

        var command = new List<string> { "HSET", $"wc:{{{channel}}}:channel" };
        foreach (var (key, value) in fields)
        {
            command.Add(key);
            command.Add(value);
        }

        await redis.ExecuteAsync([.. command]);
        await redis.ExecuteAsync("ZADD", "wc:channels", "0", channel);
        return token;
    }

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
}

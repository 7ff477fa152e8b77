using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.TestKit.Services;

/// <summary>Creates channels for queue tests through the internal admin API (CreateChannel), with settings given by
/// their config-hash names (ttl_ms, max_in_flight, …) for brevity.</summary>
public static class TestChannels
{
    private static int _counter;

    public static string UniqueName(string prefix) =>
        $"{prefix}-{Interlocked.Increment(ref _counter).ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Creates a channel with one endpoint (its own name) and returns its token.</summary>
    public static async Task<string> CreateAsync(InternalApi queueManager, string channel, IReadOnlyDictionary<string, string>? settings = null)
    {
        var request = new CreateChannelRequest
        {
            Channel = channel,
            Settings = Settings(settings ?? new Dictionary<string, string>()),
            Endpoints = { new EndpointConfig { Id = channel, Verification = Unverified } },
        };
        return (await new QueueAdminService.QueueAdminServiceClient(queueManager.Channel).CreateChannelAsync(request)).Token;
    }

    /// <summary>The `none` preset, chosen explicitly as every endpoint must choose one (a fresh instance each time,
    /// so a test that changes it changes only its own).</summary>
    public static Verification Unverified => new() { NoVerification = new() };

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static ChannelSettings Settings(IReadOnlyDictionary<string, string> fields)
    {
        var settings = new ChannelSettings();
        foreach (var (name, text) in fields)
        {
            var value = double.Parse(text, CultureInfo.InvariantCulture);
            var ms = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(value));
            switch (name)
            {
                case "ttl_ms": settings.Ttl = ms; break;
                case "ack_timeout_ms": settings.AckTimeout = ms; break;
                case "max_queue_size": settings.MaxQueueSize = (uint)value; break;
                case "max_message_bytes": settings.MaxMessageBytes = (uint)value; break;
                case "max_queue_bytes": settings.MaxQueueBytes = (ulong)value; break;
                case "history_retention_ms": settings.HistoryRetention = ms; break;
                case "history_max_bytes": settings.HistoryMaxBytes = (ulong)value; break;
                case "max_connections": settings.MaxConnections = (uint)value; break;
                case "max_in_flight": settings.MaxInFlight = (uint)value; break;
                case "max_delivery_attempts": settings.MaxDeliveryAttempts = (uint)value; break;
                case "dead_letter_expired": settings.DeadLetterExpired = value != 0; break;
                case "paused": settings.Paused = value != 0; break;
                case "backoff_initial_ms": (settings.RetryBackoff ??= new RetryBackoff()).Initial = ms; break;
                case "backoff_jitter": (settings.RetryBackoff ??= new RetryBackoff()).Jitter = value; break;
                case "backoff_max_ms": (settings.RetryBackoff ??= new RetryBackoff()).Max = ms; break;
                default: throw new ArgumentException($"unknown test setting {name}", nameof(fields));
            }
        }

        return settings;
    }
}

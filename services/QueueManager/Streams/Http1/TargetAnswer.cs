using System.Globalization;
using Google.Protobuf.WellKnownTypes;

namespace WebhookConnect.QueueManager.Streams.Http1;

/// <summary>
/// What the target answered, as the HTTP/1.1 protocols report it (<c>status_code</c>, <c>duration_ms</c> on WebSocket
/// ack/nack frames and on <c>POST /connect/ack</c>; both optional, docs/queue-manager.md): validated here once, then
/// carried as the gRPC protocol carries it (Ack.reports, Nack.target_status_code/target_duration).
/// </summary>
public static class TargetAnswer
{
    public const uint MaxStatusCode = 999;
    public const double MaxDurationMs = 86_400_000;

    /// <summary>Checks a reported status code (null: the field was not a number); returns the error naming the
    /// field, or null.</summary>
    public static string? CheckStatus(double? value) =>
        value is >= 0 and <= MaxStatusCode && Math.Floor(value.Value) == value
            ? null
            : $"status_code: must be a whole number between 0 and {MaxStatusCode}";

    /// <summary>Checks a reported duration in milliseconds (null: the field was not a number); returns the error
    /// naming the field, or null.</summary>
    public static string? CheckDuration(double? value) =>
        value is { } ms && double.IsFinite(ms) && ms is >= 0 and <= MaxDurationMs
            ? null
            : $"duration_ms: must be a number of milliseconds between 0 and {MaxDurationMs.ToString(CultureInfo.InvariantCulture)}";

    public static Duration ToDuration(double ms) => Duration.FromTimeSpan(TimeSpan.FromTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond)));
}

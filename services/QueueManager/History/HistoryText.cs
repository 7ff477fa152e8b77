using System.Globalization;
using Google.Protobuf.WellKnownTypes;

namespace WebhookConnect.QueueManager.History;

/// <summary>How the history's compact record strings are written and read (the format is described in
/// Queue/Scripts/common.lua and docs/history.md): fields separated by US (0x1F), attempts by RS (0x1E). A hand-written
/// format rather than a protobuf per record because the Lua scripts append to it in place on every delivery and
/// settlement, which they cannot do with protobuf without decoding it.</summary>
public static class HistoryText
{
    public const char FieldSeparator = '\u001f';
    public const char AttemptSeparator = '\u001e';

    /// <summary>A client-chosen string (nack reason, connector id) without the two separators.</summary>
    public static string Clean(string text) =>
        text.AsSpan().IndexOfAny(FieldSeparator, AttemptSeparator) < 0
            ? text
            : text.Replace(FieldSeparator, ' ').Replace(AttemptSeparator, ' ');

    /// <summary>A duration in whole microseconds as the scripts store it; "" when unknown (unset or negative).</summary>
    public static string Microseconds(Duration? duration)
    {
        if (duration is null || duration.Seconds < 0 || duration.Nanos < 0)
        {
            return "";
        }

        return ((duration.Seconds * 1_000_000) + (duration.Nanos / 1000)).ToString(CultureInfo.InvariantCulture);
    }

    public static Duration? FromMicroseconds(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var us)
            ? new Duration { Seconds = us / 1_000_000, Nanos = (int)(us % 1_000_000) * 1000 }
            : null;

    public static Timestamp? FromMs(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms > 0
            ? Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(ms))
            : null;

    public static uint UInt(string text) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;
}

using System.Globalization;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Cli;

/// <summary>
/// The human lines, one per event, in the spirit of <c>stripe listen</c>: the time (UTC), an arrow (<c>--&gt;</c> a
/// message coming in, <c>&lt;--</c> what became of it), what happened, the message id, then details.
/// <code>
/// 2026-12-05 04:31:02  --> accepted  msg_01J…  POST /webhook/stripe  1 234 B
/// 2026-12-05 04:31:02   -> delivered msg_01J…  attempt 1 via connector-a
/// 2026-12-05 04:31:02  &lt;-- [200] acked  msg_01J…  attempt 1  12 ms via connector-a
/// </code>
/// UTC, not local time: the lines are compared with server logs and the history's RFC 3339 times.
/// </summary>
internal static class EventLines
{
    /// <summary>The line for a tail event; null for STARTED (the command says it once on stderr instead).</summary>
    public static string? Tail(TailChannelResponse e)
    {
        var at = Time(e.At);
        return e.Kind switch
        {
            TailEventKind.Accepted => $"{at}  --> accepted  {e.MessageId}  {Request(e.Message)}  {Bytes(e.BodySize)}",
            TailEventKind.Resent => $"{at}  --> resent    {e.MessageId}  {Request(e.Message)}  {Bytes(e.BodySize)}  (resend {(e.Message?.Resend ?? 0).ToString(CultureInfo.InvariantCulture)})",
            TailEventKind.Delivered => $"{at}   -> delivered {e.MessageId}  attempt {Attempt(e.Attempt)}{Via(e.Attempt)}",
            TailEventKind.Settled => $"{at}  <-- {Status(e.Attempt)} {Outcome(e.Attempt?.Outcome ?? AttemptOutcome.Unspecified)}  {e.MessageId}  attempt {Attempt(e.Attempt)}{Duration(e.Attempt)}{Via(e.Attempt)}{Error(e.Attempt)}",
            TailEventKind.DeadLettered => $"{at}  <-- dead-lettered  {e.MessageId}  ({Reason(e.DeadLetterReason)})",
            TailEventKind.Expired => $"{at}  <-- expired  {e.MessageId}",
            TailEventKind.Started => null,
            _ => $"{at}  ??? {e.Kind}  {e.MessageId}",
        };
    }

    /// <summary>One history entry as <c>messages</c> lists it.</summary>
    public static string Record(MessageRecord r)
    {
        var last = r.Attempts.Count > 0 ? r.Attempts[^1] : null;
        var attempts = r.Attempts.Count == 1 ? "1 attempt" : $"{r.Attempts.Count.ToString(CultureInfo.InvariantCulture)} attempts";
        var status = last is { TargetStatusCode: > 0 } ? $"  [{last.TargetStatusCode.ToString(CultureInfo.InvariantCulture)}]" : "";
        return $"{Time(r.Message?.ReceivedAt)}  {State(r.State),-13}  {r.Message?.MessageId}  {Request(r.Message)}  {Bytes(r.BodySize)}  {attempts}{status}";
    }

    /// <summary>A message with its delivery record, as <c>get</c> shows it.</summary>
    public static string Detail(MessageRecord r)
    {
        var m = r.Message ?? new Message();
        var text = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"message   {m.MessageId}")
            .AppendLine(CultureInfo.InvariantCulture, $"state     {State(r.State)}{(r.DeadLetterReason != DeadLetterReason.Unspecified ? $" ({Reason(r.DeadLetterReason)})" : "")}")
            .AppendLine(CultureInfo.InvariantCulture, $"received  {Time(m.ReceivedAt)}  {Request(m)}  {Bytes(r.BodySize)}");
        if (m.IdempotencyKey.Length > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"key       {m.IdempotencyKey}");
        }

        foreach (var a in r.Attempts)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"attempt   {Time(a.DeliveredAt)}  series {a.Series.ToString(CultureInfo.InvariantCulture)} attempt {a.Attempt.ToString(CultureInfo.InvariantCulture)}  {Status(a)} {Outcome(a.Outcome)}{Duration(a)}{Via(a)}{Error(a)}");
        }

        if (m.Headers.Count > 0 || !m.Body.IsEmpty)
        {
            foreach (var h in m.Headers)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"header    {h.Name}: {h.Value.ToStringUtf8()}");
            }

            text.AppendLine().Append(m.Body.ToStringUtf8());
        }
        else if (r.BodySize > 0)
        {
            text.AppendLine("(contents not shown: pass --include-body with a token that may read contents)");
        }

        return text.ToString().TrimEnd('\n');
    }

    /// <summary><c>1 234 B</c>: a space every three digits, as the examples in docs/cli.md.</summary>
    public static string Bytes(uint size)
    {
        var digits = size.ToString(CultureInfo.InvariantCulture);
        var grouped = new StringBuilder();
        for (var i = 0; i < digits.Length; i++)
        {
            if (i > 0 && (digits.Length - i) % 3 == 0)
            {
                grouped.Append(' ');
            }

            grouped.Append(digits[i]);
        }

        return grouped.Append(" B").ToString();
    }

    private static string Time(Timestamp? at) =>
        at is null ? "                   " : at.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Request(Message? m) =>
        m is null ? "" : m.EndpointNamespace.Length > 0 ? $"POST /webhook/{m.EndpointNamespace}/{m.EndpointId}" : $"POST /webhook/{m.EndpointId}";

    private static string Attempt(DeliveryAttempt? a) => a is null ? "?" : a.Attempt.ToString(CultureInfo.InvariantCulture);

    private static string Via(DeliveryAttempt? a) =>
        a is null ? "" : a.ConnectorId.Length > 0 ? $" via {a.ConnectorId}" : a.ConnectionId.Length > 0 ? $" via {a.ConnectionId}" : "";

    private static string Status(DeliveryAttempt? a) =>
        a is { TargetStatusCode: > 0 } ? $"[{a.TargetStatusCode.ToString(CultureInfo.InvariantCulture)}]" : "[---]";

    private static string Duration(DeliveryAttempt? a) =>
        a?.TargetDuration is { } d ? $"  {((long)d.ToTimeSpan().TotalMilliseconds).ToString(CultureInfo.InvariantCulture)} ms" : "";

    private static string Error(DeliveryAttempt? a) => a is { Error.Length: > 0 } ? $"  ({a.Error})" : "";

    /// <summary>An enum value's proto name without its prefix, lower case: ACKED → acked.</summary>
    private static string Outcome(AttemptOutcome o) => o switch
    {
        AttemptOutcome.InFlight => "in-flight",
        AttemptOutcome.Acked => "acked",
        AttemptOutcome.NackedRetry => "nacked (retry)",
        AttemptOutcome.NackedRejected => "nacked (rejected)",
        AttemptOutcome.LeaseExpired => "lease expired",
        AttemptOutcome.Released => "released",
        _ => "unknown",
    };

    private static string State(MessageState s) => s switch
    {
        MessageState.Waiting => "waiting",
        MessageState.InFlight => "in_flight",
        MessageState.Acked => "acked",
        MessageState.DeadLettered => "dead_lettered",
        MessageState.Expired => "expired",
        MessageState.Purged => "purged",
        _ => "unknown",
    };

    private static string Reason(DeadLetterReason r) => r switch
    {
        DeadLetterReason.MaxAttempts => "max attempts",
        DeadLetterReason.Rejected => "rejected",
        DeadLetterReason.Expired => "expired",
        _ => "unknown reason",
    };

    /// <summary>The names <c>--state</c> accepts, as the JSON twin's <c>state</c>.</summary>
    public static MessageState ParseState(string text) => text.Trim().ToLowerInvariant() switch
    {
        "waiting" => MessageState.Waiting,
        "in_flight" or "in-flight" => MessageState.InFlight,
        "acked" => MessageState.Acked,
        "dead_lettered" or "dead-lettered" => MessageState.DeadLettered,
        "expired" => MessageState.Expired,
        "purged" => MessageState.Purged,
        _ => throw new UsageException($"--state = '{text}' is not one of waiting, in_flight, acked, dead_lettered, expired, purged"),
    };

    /// <summary>Protobuf JSON, proto field names, one line: what <c>--json</c> prints.</summary>
    public static string Json(IMessage message) => Formatter.Format(message);

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));
}

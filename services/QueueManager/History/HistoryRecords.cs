using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.QueueManager.History;

/// <summary>Reads the record strings the scripts write (common.lua) into the API's <see cref="MessageRecord"/>.</summary>
public static class HistoryRecords
{
    /// <summary>The parts of a record's head: state letter, series.</summary>
    public readonly record struct Head(char State, uint Series);

    public static Head ReadHead(string record)
    {
        var end = record.IndexOf(HistoryText.AttemptSeparator);
        var head = (end < 0 ? record : record[..end]).Split(HistoryText.FieldSeparator);
        return new Head(head[0].Length > 0 ? head[0][0] : 'W', HistoryText.UInt(head[3]));
    }

    /// <summary>The record of one message: <paramref name="envelope"/> is its stored Message (null when gone).</summary>
    public static MessageRecord ToRecord(string record, byte[]? envelope)
    {
        var parts = record.Split(HistoryText.AttemptSeparator);
        var head = parts[0].Split(HistoryText.FieldSeparator);
        var result = new MessageRecord
        {
            State = State(head[0]),
            SettledAt = head[0] is "A" or "D" or "E" or "P" ? HistoryText.FromMs(head[1]) : null,
            DeadLetterReason = head[0] == "D" ? Reason(head[2]) : DeadLetterReason.Unspecified,
        };
        for (var i = 1; i < parts.Length; i++)
        {
            result.Attempts.Add(ToAttempt(parts[i]));
        }

        if (envelope is null)
        {
            result.EnvelopeTrimmed = true;
            return result;
        }

        var message = Message.Parser.ParseFrom(envelope);
        if (result.Attempts.Count > 0 && result.Attempts[^1].Series == message.Resend)
        {
            message.Attempt = result.Attempts[^1].Attempt;
        }

        result.Message = message;
        result.BodySize = (uint)message.Body.Length;
        return result;
    }

    /// <summary>One attempt: series, attempt, delivered, connection, connector, protocol[, outcome, settled, status,
    /// duration us, error].</summary>
    public static DeliveryAttempt ToAttempt(string text)
    {
        var f = text.Split(HistoryText.FieldSeparator);
        var attempt = new DeliveryAttempt
        {
            Series = HistoryText.UInt(f[0]),
            Attempt = f.Length > 1 ? HistoryText.UInt(f[1]) : 0,
            DeliveredAt = f.Length > 2 ? HistoryText.FromMs(f[2]) : null,
            ConnectionId = f.Length > 3 ? f[3] : "",
            ConnectorId = f.Length > 4 ? f[4] : "",
            Protocol = f.Length > 5 ? f[5] : "",
            Outcome = AttemptOutcome.InFlight,
        };
        if (f.Length > 10)
        {
            attempt.Outcome = Outcome(f[6]);
            attempt.SettledAt = HistoryText.FromMs(f[7]);
            attempt.TargetStatusCode = HistoryText.UInt(f[8]);
            attempt.TargetDuration = HistoryText.FromMicroseconds(f[9]);
            attempt.Error = f[10];
        }

        return attempt;
    }

    public static AttemptOutcome Outcome(string text) => text switch
    {
        "ACKED" => AttemptOutcome.Acked,
        "NACKED_RETRY" => AttemptOutcome.NackedRetry,
        "NACKED_REJECTED" => AttemptOutcome.NackedRejected,
        "LEASE_EXPIRED" => AttemptOutcome.LeaseExpired,
        "RELEASED" => AttemptOutcome.Released,
        _ => AttemptOutcome.Unspecified,
    };

    public static MessageState State(string letter) => letter switch
    {
        "W" => MessageState.Waiting,
        "F" => MessageState.InFlight,
        "A" => MessageState.Acked,
        "D" => MessageState.DeadLettered,
        "E" => MessageState.Expired,
        "P" => MessageState.Purged,
        _ => MessageState.Unspecified,
    };

    public static DeadLetterReason Reason(string text) => text switch
    {
        "MAX_ATTEMPTS" => DeadLetterReason.MaxAttempts,
        "REJECTED" => DeadLetterReason.Rejected,
        "EXPIRED" => DeadLetterReason.Expired,
        _ => DeadLetterReason.Unspecified,
    };
}

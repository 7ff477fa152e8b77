using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Protocols;

/// <summary>
/// The JSON of the HTTP/1.1 connector protocols (issue 16) read into our envelope and written from our frames. Hand
/// written on <see cref="Utf8JsonReader"/>/<see cref="Utf8JsonWriter"/> because the webhook JSON is a foreign, flat
/// shape (not the protobuf JSON mapping of <see cref="Message"/>), and the body must come out byte-identical.
/// </summary>
/// <remarks>
/// A webhook is read leniently, so that queue-manager's JSON can grow: <c>message_id</c> (required),
/// <c>webhook_id</c> or <c>endpoint_id</c>, <c>channel</c>, <c>attempt</c> (default 1), <c>timestamp</c> or
/// <c>received_at</c>, <c>traceparent</c>, <c>tracestate</c>, <c>content_type</c>, <c>header_list_base64</c> (the exact
/// bytes, base64), else <c>header_list</c> or <c>headers</c> (an object of name →
/// value or list of values, or a list of <c>{name, value}</c> or <c>[name, value]</c>, values as text, or as base64
/// when <c>headers_encoding</c> is <c>base64</c>), and the body: <c>body_base64</c> when present (the bytes exactly),
/// else <c>payload</c> with <c>payload_encoding</c>: <c>base64</c> (the bytes), else the payload as text when it is a
/// JSON string, or its JSON text as received when it is any other JSON value.
/// </remarks>
public static class Http1Messages
{
    /// <summary>Reads one server frame's <c>type</c> and the document; the caller disposes the document.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> json, out string type)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new RpcException(new Status(StatusCode.Internal, "queue-manager sent a frame that is not JSON: " + ex.Message));
        }

        type = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()!
            : "";
        return document;
    }

    /// <summary>A <c>connected</c> frame (or SSE <c>connected</c> event) as <c>Subscribed</c>.</summary>
    public static Subscribed Subscribed(JsonElement connected, uint maxInFlight) => new()
    {
        ConnectionId = Text(connected, "connection_id") ?? "",
        MaxInFlight = connected.TryGetProperty("max_in_flight", out var granted) && granted.TryGetUInt32(out var n) ? n : maxInFlight,
        Paused = connected.TryGetProperty("paused", out var paused) && paused.ValueKind == JsonValueKind.True,
    };

    /// <summary>A webhook as our envelope.</summary>
    /// <exception cref="RpcException">INTERNAL when it has no message id or an undecodable body.</exception>
    public static Message Webhook(JsonElement webhook, string channel)
    {
        var id = Text(webhook, "message_id");
        if (string.IsNullOrEmpty(id))
        {
            throw new RpcException(new Status(StatusCode.Internal, "queue-manager sent a webhook without message_id"));
        }

        var message = new Message
        {
            MessageId = id,
            Channel = Text(webhook, "channel") ?? channel,
            EndpointId = Text(webhook, "endpoint_id") ?? Text(webhook, "webhook_id") ?? "",
            EndpointNamespace = Text(webhook, "endpoint_namespace") ?? "",
            Attempt = webhook.TryGetProperty("attempt", out var attempt) && attempt.TryGetUInt32(out var n) && n > 0 ? n : 1,
            Resend = webhook.TryGetProperty("resend", out var resend) && resend.TryGetUInt32(out var r) ? r : 0,
            Traceparent = Text(webhook, "traceparent") ?? "",
            Tracestate = Text(webhook, "tracestate") ?? "",
            ContentType = Text(webhook, "content_type") ?? "",
            IdempotencyKey = Text(webhook, "idempotency_key") ?? "",
        };

        var received = Text(webhook, "received_at") ?? Text(webhook, "timestamp");
        if (received is not null && DateTimeOffset.TryParse(received, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            message.ReceivedAt = Timestamp.FromDateTimeOffset(at);
        }

        try
        {
            ReadHeaders(webhook, message);
            message.Body = Body(webhook);
        }
        catch (FormatException ex)
        {
            throw new RpcException(new Status(StatusCode.Internal, $"queue-manager sent webhook {id} with an undecodable field: {ex.Message}"));
        }

        return message;
    }

    private static ByteString Body(JsonElement webhook)
    {
        if (Text(webhook, "body_base64") is { } exact)
        {
            return ByteString.FromBase64(exact);
        }

        if (!webhook.TryGetProperty("payload", out var payload) || payload.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return ByteString.Empty;
        }

        if (string.Equals(Text(webhook, "payload_encoding"), "base64", StringComparison.OrdinalIgnoreCase))
        {
            return ByteString.FromBase64(payload.GetString() ?? "");
        }

        return payload.ValueKind == JsonValueKind.String
            ? ByteString.CopyFromUtf8(payload.GetString()!)
            : ByteString.CopyFrom(Encoding.UTF8.GetBytes(payload.GetRawText()));
    }

    private static void ReadHeaders(JsonElement webhook, Message message)
    {
        // header_list_base64 (queue-manager sends it when a value is not UTF-8) holds the exact bytes; header_list
        // ([name, value] pairs in order, repeated names kept) is queue-manager's list as text, exact for UTF-8 values;
        // headers (an object, repeated names joined) is what older servers send.
        var base64 = webhook.TryGetProperty("header_list_base64", out var headers) && headers.ValueKind == JsonValueKind.Array;
        if (!base64 && !webhook.TryGetProperty("header_list", out headers) && !webhook.TryGetProperty("headers", out headers))
        {
            return;
        }

        base64 |= string.Equals(Text(webhook, "headers_encoding"), "base64", StringComparison.OrdinalIgnoreCase);
        ByteString Value(JsonElement value) => base64 ? ByteString.FromBase64(value.GetString() ?? "") : ByteString.CopyFromUtf8(value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText());

        if (headers.ValueKind == JsonValueKind.Object)
        {
            foreach (var header in headers.EnumerateObject())
            {
                if (header.Value.ValueKind == JsonValueKind.Array)
                {
                    foreach (var value in header.Value.EnumerateArray())
                    {
                        message.Headers.Add(new Header { Name = header.Name, Value = Value(value) });
                    }
                }
                else
                {
                    message.Headers.Add(new Header { Name = header.Name, Value = Value(header.Value) });
                }
            }
        }
        else if (headers.ValueKind == JsonValueKind.Array)
        {
            foreach (var header in headers.EnumerateArray())
            {
                if (header.ValueKind == JsonValueKind.Array && header.GetArrayLength() == 2)
                {
                    message.Headers.Add(new Header { Name = header[0].GetString() ?? "", Value = Value(header[1]) });
                }
                else if (header.ValueKind == JsonValueKind.Object && Text(header, "name") is { } name && header.TryGetProperty("value", out var value))
                {
                    message.Headers.Add(new Header { Name = name, Value = Value(value) });
                }
            }
        }
    }

    /// <summary>The string property <paramref name="name"/>, or null.</summary>
    public static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary><c>{"type":"ack","message_id":…,"status_code":200,"duration_ms":12.5}</c> (the last two when the
    /// target's answer is known: <paramref name="report"/>).</summary>
    public static byte[] Ack(string messageId, TargetReport? report = null) => Write(writer =>
    {
        writer.WriteString("type", "ack");
        writer.WriteString("message_id", messageId);
        WriteAnswer(writer, report?.TargetStatusCode ?? 0, report?.TargetDuration);
    });

    /// <summary>What the target answered: <c>status_code</c> (when not 0) and <c>duration_ms</c> (when known).</summary>
    private static void WriteAnswer(Utf8JsonWriter writer, uint statusCode, Google.Protobuf.WellKnownTypes.Duration? duration)
    {
        if (statusCode != 0)
        {
            writer.WriteNumber("status_code", statusCode);
        }

        if (duration is not null)
        {
            writer.WriteNumber("duration_ms", Math.Round(duration.ToTimeSpan().TotalMilliseconds, 3));
        }
    }

    /// <summary>The query parameters of <c>POST /connect/ack</c> for the target's answer ("" when unknown).</summary>
    public static string AnswerQuery(uint statusCode, Google.Protobuf.WellKnownTypes.Duration? duration)
    {
        var query = statusCode != 0 ? "&status_code=" + statusCode.ToString(CultureInfo.InvariantCulture) : "";
        return duration is null
            ? query
            : query + "&duration_ms=" + Math.Round(duration.ToTimeSpan().TotalMilliseconds, 3).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary><c>{"type":"nack","message_id":…,"retry":…,"reason":…}</c> (<c>reason</c> is ours: it becomes the dead
    /// letter's last error; a server that does not know it ignores it).</summary>
    public static byte[] Nack(Nack nack) => Write(writer =>
    {
        writer.WriteString("type", "nack");
        writer.WriteString("message_id", nack.MessageId);
        writer.WriteBoolean("retry", nack.Retry);
        if (nack.Reason.Length > 0)
        {
            writer.WriteString("reason", nack.Reason);
        }

        WriteAnswer(writer, nack.TargetStatusCode, nack.TargetDuration);
    });

    /// <summary>The client's <c>{"type":"heartbeat","timestamp":…}</c>, our answer to the server's heartbeat.</summary>
    public static byte[] Heartbeat(DateTimeOffset now) => Write(writer =>
    {
        writer.WriteString("type", "heartbeat");
        writer.WriteString("timestamp", now);
    });

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}

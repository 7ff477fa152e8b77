using System.Buffers;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.QueueManager.Streams.Http1;

/// <summary>
/// The JSON messages of the HTTP/1.1 connector protocols (docs/queue-manager.md, "HTTP/1.1 connector protocols"),
/// written with <see cref="Utf8JsonWriter"/> into pooled buffers. Hand-written rather than serialised from records:
/// the shapes are fixed by existing connectors, and <c>payload</c> is a JSON value copied through as it arrived.
/// </summary>
public static class WireFormat
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly JsonWriterOptions Compact = new() { Indented = false, SkipValidation = false };

    public static void Connected(IBufferWriter<byte> output, string connectionId, string channel, ConnectResponse subscribed)
    {
        using var json = new Utf8JsonWriter(output, Compact);
        json.WriteStartObject();
        json.WriteString("type", "connected");
        json.WriteString("connection_id", connectionId);
        json.WriteString("channel", channel);
        json.WriteString("timestamp", DateTimeOffset.UtcNow);
        if (subscribed.Subscribed is { } s)
        {
            json.WriteNumber("max_in_flight", s.MaxInFlight);
            json.WriteNumber("ack_timeout_ms", (long)s.AckTimeout.ToTimeSpan().TotalMilliseconds);
            json.WriteNumber("heartbeat_interval_ms", (long)s.HeartbeatInterval.ToTimeSpan().TotalMilliseconds);
            json.WriteBoolean("paused", s.Paused);
        }

        json.WriteEndObject();
    }

    /// <summary>SSE's <c>connected</c> data: <c>{connection_id, channel}</c>.</summary>
    public static void SseConnected(IBufferWriter<byte> output, string connectionId, string channel)
    {
        using var json = new Utf8JsonWriter(output, Compact);
        json.WriteStartObject();
        json.WriteString("connection_id", connectionId);
        json.WriteString("channel", channel);
        json.WriteEndObject();
    }

    /// <summary>
    /// One webhook as flat JSON. <c>payload</c>: the body as a JSON value when the content type is JSON
    /// (<c>application/json</c> or <c>+json</c>) and the body parses; else the body as a string when it is valid UTF-8;
    /// else base64. <c>payload_encoding</c> says which (<c>json</c>, <c>text</c>, <c>base64</c>), and
    /// <c>body_base64</c> always carries the exact bytes (the gRPC envelope stays the source of truth).
    /// </summary>
    public static void Webhook(IBufferWriter<byte> output, Delivery delivery, long sequence, bool withType = true)
    {
        using var json = new Utf8JsonWriter(output, Compact);
        WriteWebhook(json, delivery.Message, sequence, delivery.LeaseDeadline, withType);
    }

    public static void WriteWebhook(Utf8JsonWriter json, Message message, long sequence, Timestamp? leaseDeadline, bool withType)
    {
        json.WriteStartObject();
        if (withType)
        {
            json.WriteString("type", "webhook");
        }

        json.WriteString("message_id", message.MessageId);
        json.WriteNumber("sequence", sequence);
        json.WriteString("webhook_id", message.EndpointId);
        json.WriteString("timestamp", message.ReceivedAt?.ToDateTimeOffset() ?? DateTimeOffset.UnixEpoch);
        json.WriteStartObject("headers");
        // Repeated names are joined with ", " (RFC 9110 §5.3); header_list keeps each entry, in order.
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in message.Headers)
        {
            if (!seen.Add(header.Name))
            {
                continue;
            }

            var values = message.Headers.Where(h => string.Equals(h.Name, header.Name, StringComparison.OrdinalIgnoreCase)).Select(h => HeaderText(h.Value.Span));
            json.WriteString(header.Name, string.Join(", ", values));
        }

        json.WriteEndObject();
        json.WriteStartArray("header_list");
        foreach (var header in message.Headers)
        {
            json.WriteStartArray();
            json.WriteStringValue(header.Name);
            json.WriteStringValue(HeaderText(header.Value.Span));
            json.WriteEndArray();
        }

        json.WriteEndArray();
        // header_list's text gives the bytes back only when they are UTF-8 (its Latin-1 reading of other bytes comes
        // back as their UTF-8, two bytes for one): then the exact list follows, each value base64, as body_base64 does
        // for the body. Only then, so the usual webhook costs nothing more.
        if (!AllUtf8(message.Headers))
        {
            json.WriteStartArray("header_list_base64");
            foreach (var header in message.Headers)
            {
                json.WriteStartArray();
                json.WriteStringValue(header.Name);
                json.WriteBase64StringValue(header.Value.Span);
                json.WriteEndArray();
            }

            json.WriteEndArray();
        }

        var body = message.Body.Span;
        json.WritePropertyName("payload");
        if (IsJsonContentType(message.ContentType) && IsJson(body))
        {
            json.WriteRawValue(body, skipInputValidation: true);
            json.WriteString("payload_encoding", "json");
        }
        else if (TryUtf8(body, out var text))
        {
            json.WriteStringValue(text);
            json.WriteString("payload_encoding", "text");
        }
        else
        {
            json.WriteBase64StringValue(body);
            json.WriteString("payload_encoding", "base64");
        }

        json.WriteBase64String("body_base64", body);
        json.WriteString("content_type", message.ContentType);
        json.WriteNumber("attempt", message.Attempt);
        // 0 as received, n for an operator's n-th resend (the connector sends X-Webhook-Resend: n).
        json.WriteNumber("resend", message.Resend);
        // The trace context the gRPC frame carries (queue-manager's delivery span while traces are exported, else
        // the stored one), so a delivery over HTTP/1.1 joins the webhook's trace too.
        if (message.Traceparent.Length > 0)
        {
            json.WriteString("traceparent", message.Traceparent);
            if (message.Tracestate.Length > 0)
            {
                json.WriteString("tracestate", message.Tracestate);
            }
        }

        if (leaseDeadline is not null)
        {
            json.WriteString("lease_deadline", leaseDeadline.ToDateTimeOffset());
        }

        json.WriteEndObject();
    }

    public static void Heartbeat(IBufferWriter<byte> output, bool withType)
    {
        var now = DateTimeOffset.UtcNow;
        using var json = new Utf8JsonWriter(output, Compact);
        json.WriteStartObject();
        if (withType)
        {
            json.WriteString("type", "heartbeat");
        }

        json.WriteString("timestamp", now);
        if (withType)
        {
            json.WriteString("server_time", now);
        }

        json.WriteEndObject();
    }

    /// <summary>An error frame: <c>{"type":"error","error":code,"message":text}</c> plus the message id it concerns.</summary>
    public static byte[] Error(string code, string message, string? messageId = null, bool withType = true)
    {
        var output = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(output, Compact))
        {
            json.WriteStartObject();
            if (withType)
            {
                json.WriteString("type", "error");
            }

            json.WriteString("error", code);
            json.WriteString("message", message);
            if (messageId is not null)
            {
                json.WriteString("message_id", messageId);
            }

            json.WriteEndObject();
        }

        return output.WrittenSpan.ToArray();
    }

    public static byte[] Detail(string detail)
    {
        var output = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(output, Compact))
        {
            json.WriteStartObject();
            json.WriteString("detail", detail);
            json.WriteEndObject();
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>Header values are bytes in the envelope: shown as UTF-8 when valid, else as Latin-1 (one character per
    /// byte, HTTP's historical reading), so no value is dropped.</summary>
    private static string HeaderText(ReadOnlySpan<byte> value) =>
        TryUtf8(value, out var text) ? text : Encoding.Latin1.GetString(value);

    private static bool AllUtf8(IEnumerable<Header> headers)
    {
        foreach (var header in headers)
        {
            if (!System.Text.Unicode.Utf8.IsValid(header.Value.Span))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryUtf8(ReadOnlySpan<byte> bytes, out string text)
    {
        try
        {
            text = StrictUtf8.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            text = "";
            return false;
        }
    }

    private static bool IsJsonContentType(string contentType)
    {
        var media = contentType.Split(';', 2)[0].Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsJson(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

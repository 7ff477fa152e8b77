using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Grpc.Core;

namespace WebhookConnect.Grpc.Protocol;

/// <summary>
/// The wire rules of gRPC over HTTP/2 that both ends share
/// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
/// </summary>
public static class GrpcProtocol
{
    public const string ContentType = "application/grpc";
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";
    public const string AcceptEncodingValue = "identity,gzip";
    public const string UserAgent = "grpc-dotnet-webhookconnect/1.0";

    /// <summary>The default limit for one message in either direction.</summary>
    public const int DefaultMaxMessageSize = 16 * 1024 * 1024;

    /// <summary>Size of the Length-Prefixed-Message header: Compressed-Flag (1 byte) and Message-Length (4 bytes, big-endian).</summary>
    public const int FrameHeaderSize = 5;

    /// <summary>"application/grpc" optionally followed by "+proto", "+json" or parameters.</summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return contentType.Length == ContentType.Length || contentType[ContentType.Length] is '+' or ';';
    }

    /// <summary>Headers that the protocol owns; they never surface as call metadata.</summary>
    public static bool IsReservedHeader(string name) => name.Length == 0 || name[0] == ':' || name switch
    {
        "content-type" or "te" or "host" or "user-agent" or "content-length" or "accept-encoding" or "date" or "server"
            or StatusHeader or MessageHeader or TimeoutHeader or EncodingHeader or AcceptEncodingHeader => true,
        _ => false,
    };

    public static void WriteFrameHeader(Span<byte> destination, bool compressed, int length)
    {
        destination[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)length);
    }

    /// <summary>
    /// Formats a timeout as "TimeoutValue TimeoutUnit": at most 8 digits, so the unit grows with the value.
    /// Rounds up so a deadline is never shortened in transit.
    /// </summary>
    public static string FormatTimeout(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return "1n";
        }

        const long maxValue = 99_999_999;
        var ticks = timeout.Ticks;
        var micros = CeilDiv(ticks, TimeSpan.TicksPerMicrosecond);
        if (micros <= maxValue)
        {
            return micros.ToString(CultureInfo.InvariantCulture) + "u";
        }

        var millis = CeilDiv(ticks, TimeSpan.TicksPerMillisecond);
        if (millis <= maxValue)
        {
            return millis.ToString(CultureInfo.InvariantCulture) + "m";
        }

        var seconds = CeilDiv(ticks, TimeSpan.TicksPerSecond);
        if (seconds <= maxValue)
        {
            return seconds.ToString(CultureInfo.InvariantCulture) + "S";
        }

        var minutes = CeilDiv(ticks, TimeSpan.TicksPerMinute);
        if (minutes <= maxValue)
        {
            return minutes.ToString(CultureInfo.InvariantCulture) + "M";
        }

        return Math.Min(CeilDiv(ticks, TimeSpan.TicksPerHour), maxValue).ToString(CultureInfo.InvariantCulture) + "H";

        static long CeilDiv(long a, long b) => (a + b - 1) / b;
    }

    /// <summary>Parses "TimeoutValue TimeoutUnit" (1–8 digits, unit H M S m u n); false when malformed.</summary>
    public static bool TryParseTimeout(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (value is null || value.Length < 2 || value.Length > 9)
        {
            return false;
        }

        if (!long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }

        long ticks;
        switch (value[^1])
        {
            case 'H': ticks = amount * TimeSpan.TicksPerHour; break;
            case 'M': ticks = amount * TimeSpan.TicksPerMinute; break;
            case 'S': ticks = amount * TimeSpan.TicksPerSecond; break;
            case 'm': ticks = amount * TimeSpan.TicksPerMillisecond; break;
            case 'u': ticks = amount * TimeSpan.TicksPerMicrosecond; break;
            case 'n': ticks = (amount + 99) / 100; break;
            default: return false;
        }

        timeout = TimeSpan.FromTicks(ticks);
        return true;
    }

    /// <summary>
    /// Percent-encodes a status message: UTF-8 bytes outside printable ASCII, and '%' itself, become "%XX"
    /// (PROTOCOL-HTTP2 "Status-Message").
    /// </summary>
    public static string EncodeStatusMessage(string message)
    {
        var needsEncoding = false;
        foreach (var c in message)
        {
            if (c is < ' ' or > '~' or '%')
            {
                needsEncoding = true;
                break;
            }
        }

        if (!needsEncoding)
        {
            return message;
        }

        var bytes = Encoding.UTF8.GetBytes(message);
        var builder = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            if (b is < 0x20 or > 0x7E or (byte)'%')
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append((char)b);
            }
        }

        return builder.ToString();
    }

    /// <summary>Reverses <see cref="EncodeStatusMessage"/>; malformed escapes are kept literally, as the spec asks.</summary>
    public static string DecodeStatusMessage(string? value)
    {
        if (string.IsNullOrEmpty(value) || !value.Contains('%', StringComparison.Ordinal))
        {
            return value ?? "";
        }

        var bytes = new List<byte>(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length
                && byte.TryParse(value.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(value[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>Decodes one "-bin" header value: base64, padded or not (senders may omit the padding).</summary>
    public static byte[] DecodeBinaryHeader(string value)
    {
        var trimmed = value.Trim();
        var padding = (4 - (trimmed.Length % 4)) % 4;
        if (padding == 3)
        {
            throw new FormatException("Invalid base64 length in a binary header.");
        }

        return Convert.FromBase64String(padding == 0 ? trimmed : trimmed + new string('=', padding));
    }

    /// <summary>
    /// Adds one received header value to call metadata: reserved headers are skipped, "-bin" values are
    /// base64-decoded (a comma-joined value is several entries). Throws FormatException or ArgumentException
    /// for a value metadata cannot hold; callers decide whether that fails the call.
    /// </summary>
    public static void AddReceivedHeader(Metadata metadata, string name, string value)
    {
        var key = name.ToLowerInvariant();
        if (IsReservedHeader(key))
        {
            return;
        }

        if (!key.EndsWith(Metadata.BinaryHeaderSuffix, StringComparison.Ordinal))
        {
            metadata.Add(key, value);
            return;
        }

        foreach (var part in value.Split(','))
        {
            metadata.Add(key, DecodeBinaryHeader(part));
        }
    }

    /// <summary>Encodes a "-bin" header value without padding, as the spec recommends senders do.</summary>
    public static string EncodeBinaryHeader(byte[] value) => Convert.ToBase64String(value).TrimEnd('=');

    /// <summary>The gRPC status a client reports for a non-200 HTTP response (doc/http-grpc-status-mapping.md).</summary>
    public static StatusCode StatusFromHttpStatus(int httpStatus) => httpStatus switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    /// <summary>Parses a grpc-status value; anything unparsable is Unknown, as the spec requires.</summary>
    public static StatusCode ParseStatusCode(string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? (StatusCode)code : StatusCode.Unknown;
}

using System.Buffers.Binary;
using System.Net;
using Google.Protobuf;

namespace WebhookConnect.Grpc.Tests.Support;

/// <summary>
/// Hand-made gRPC requests over plain HttpClient, for what a well-behaved client never sends: broken frames, a
/// chosen <c>:authority</c>, a bare <c>grpc-timeout</c> without a client-side timer.
/// </summary>
public static class RawGrpc
{
    /// <summary>Compressed flag (1 byte) and big-endian message length (4 bytes), PROTOCOL-HTTP2's Length-Prefixed-Message.</summary>
    public const int FrameHeaderSize = 5;

    public static HttpClient CreateClient() => new(new SocketsHttpHandler { UseProxy = false }) { Timeout = Timeout.InfiniteTimeSpan };

    public static HttpRequestMessage Request(string address, string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
        var request = new HttpRequestMessage(HttpMethod.Post, address + path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        return request;
    }

    public static byte[] Frame(IMessage message, bool compressedFlag = false) => Frame(message.ToByteArray(), compressedFlag);

    public static byte[] Frame(byte[] payload, bool compressedFlag = false) => Frame(payload, payload.Length, compressedFlag);

    /// <summary>A frame whose header announces <paramref name="announcedLength"/> bytes, whatever follows.</summary>
    public static byte[] Frame(byte[] payload, int announcedLength, bool compressedFlag = false)
    {
        var frame = new byte[FrameHeaderSize + payload.Length];
        frame[0] = compressedFlag ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), announcedLength);
        payload.CopyTo(frame, FrameHeaderSize);
        return frame;
    }

    /// <summary>grpc-status from the headers (trailers-only) or else the trailers; read the body first.</summary>
    public static string? StatusOf(HttpResponseMessage response) => HeaderOf(response, "grpc-status");

    /// <summary>grpc-message, percent-decoded.</summary>
    public static string? MessageOf(HttpResponseMessage response) => HeaderOf(response, "grpc-message") is { } message ? Uri.UnescapeDataString(message) : null;

    private static string? HeaderOf(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.TrailingHeaders.TryGetValues(name, out values))
        {
            return string.Join(",", values);
        }

        return null;
    }
}

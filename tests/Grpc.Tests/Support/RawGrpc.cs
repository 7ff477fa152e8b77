using System.Net;
using Google.Protobuf;
using WebhookConnect.Grpc.Protocol;

namespace WebhookConnect.Grpc.Tests.Support;

/// <summary>Hand-made gRPC requests over plain HttpClient, for protocol details the typed client never produces.</summary>
public static class RawGrpc
{
    public static HttpClient CreateClient() => new(new SocketsHttpHandler()) { Timeout = Timeout.InfiniteTimeSpan };

    public static HttpRequestMessage Request(string address, string path, byte[] body, string contentType = GrpcProtocol.ContentType)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("content-type", contentType);
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

    public static byte[] Frame(byte[] payload, bool compressedFlag = false)
    {
        var frame = new byte[GrpcProtocol.FrameHeaderSize + payload.Length];
        GrpcProtocol.WriteFrameHeader(frame, compressedFlag, payload.Length);
        payload.CopyTo(frame, GrpcProtocol.FrameHeaderSize);
        return frame;
    }

    /// <summary>grpc-status from the headers (trailers-only) or else the trailers; read the body first.</summary>
    public static string? StatusOf(HttpResponseMessage response) => HeaderOf(response, "grpc-status");

    public static string? MessageOf(HttpResponseMessage response) => HeaderOf(response, "grpc-message");

    private static string? HeaderOf(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.TrailingHeaders.TryGetValues(name, out values))
        {
            return string.Join(",", values);
        }

        return null;
    }
}

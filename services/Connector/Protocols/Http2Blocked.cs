using System.Net.Http;
using Grpc.Core;

namespace WebhookConnect.Connector.Protocols;

/// <summary>
/// Whether a failed gRPC handshake shows that HTTP/2 does not get through to queue-manager (SPEC §16, <c>auto</c>):
/// the peer answered in HTTP/1.x (a proxy that read our HTTP/2 preface as a bad request), TLS negotiated HTTP/1.1
/// (ALPN without h2), the HTTP/2 connection broke with a protocol error, or a TCP connection opened but closed before
/// the HTTP/2 handshake completed. A refused connection, a timeout, a DNS
/// failure or a gRPC status from queue-manager itself show nothing of the kind: the same failure would hit WebSocket,
/// so <c>auto</c> keeps trying gRPC.
/// </summary>
public static class Http2Blocked
{
    /// <summary>True, with a short human reason, when <paramref name="error"/> (or one of its inner exceptions) is such a failure.</summary>
    public static bool Test(Exception? error, out string reason)
    {
        for (var ex = error; ex is not null; ex = ex.InnerException)
        {
            if (ex is RpcException rpc && rpc.Status.DebugException is { } debug && !ReferenceEquals(debug, ex) && Test(debug, out reason))
            {
                return true;
            }

            switch (ex)
            {
                case HttpProtocolException protocol:
                    reason = $"HTTP/2 protocol error {protocol.ErrorCode} at the handshake ({protocol.Message})";
                    return true;
                case HttpRequestException { HttpRequestError: HttpRequestError.VersionNegotiationError } negotiation:
                    reason = "the server or a proxy does not offer HTTP/2 (" + negotiation.Message + ")";
                    return true;
                case HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError } invalid:
                    reason = "the answer was not HTTP/2 (" + invalid.Message + ")";
                    return true;
                case HttpIOException { HttpRequestError: HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError } invalid:
                    reason = "the answer was not HTTP/2 (" + invalid.Message + ")";
                    return true;
                case HttpRequestException { HttpRequestError: HttpRequestError.Unknown or HttpRequestError.ResponseEnded, InnerException: null } handshake:
                    // The TCP connection opened (a refused or unreachable one is ConnectionError) but no HTTP/2
                    // SETTINGS came back: a proxy that closed on our preface. A false positive costs one WebSocket
                    // attempt, and auto tries gRPC first again on the next connection.
                    reason = "the HTTP/2 handshake did not complete (" + handshake.Message + ")";
                    return true;
            }
        }

        reason = "";
        return false;
    }
}

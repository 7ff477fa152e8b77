using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace WebhookConnect.Ingress.Intake;

/// <summary>
/// HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge) on one port (SPEC §14: 8080 serves both).
/// </summary>
/// <remarks>
/// Without TLS there is no ALPN, and Kestrel serves an <c>Http1AndHttp2</c> endpoint as HTTP/1.1 only. This
/// connection middleware peeks at the first bytes: a connection that opens with the HTTP/2 client preface
/// (RFC 9113 §3.4) is marked as if ALPN had chosen <c>h2</c>, which is how Kestrel picks its protocol; nothing is
/// consumed, so Kestrel reads the preface itself. The marker features carry no certificate and no handshake
/// (<c>ITlsHandshakeFeature</c> stays absent, so Kestrel's TLS checks for HTTP/2 do not apply). Kestrel then expects
/// <c>:scheme https</c>; <c>AllowAlternateSchemes</c> (IngressExtensions) lets the client's <c>http</c> stand.
/// <para>
/// The peek waits for bytes, not for the connection: a client may send its request and half-close at once
/// (<c>shutdown(SHUT_WR)</c>), and its bytes are still there to read after the FIN (the transport's
/// <c>ConnectionClosed</c> has fired by then, so it must not cancel the read). A connection that ends before it
/// sent a byte, or is reset, is simply over: nothing to serve, nothing to log as an error. HTTP/1.1 connections
/// are then served through <see cref="HalfCloseTolerantConnection"/>, so such a request is also answered.
/// </para>
/// </remarks>
public static partial class CleartextHttp2
{
    // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private enum Opening
    {
        /// <summary>Anything but the HTTP/2 preface: Kestrel's HTTP/1.1 parser decides what it is.</summary>
        Http1,

        /// <summary>The HTTP/2 client preface.</summary>
        Http2,

        /// <summary>The connection ended (FIN or reset) before it sent a byte.</summary>
        Nothing,

        /// <summary>Nothing, or only part of the HTTP/2 preface, arrived within the opening timeout.</summary>
        TooSlow,
    }

    /// <summary>How long a connection may take to send the bytes that tell its protocol, unless told otherwise.</summary>
    public static readonly TimeSpan DefaultOpeningTimeout = TimeSpan.FromSeconds(10);

    /// <param name="listen">The endpoint.</param>
    /// <param name="openingTimeout">How long a new connection may stay silent, or send only part of the HTTP/2
    /// preface, before it is closed (<c>Ingress:RequestHeadersTimeout</c>). Kestrel's own timeouts start only once
    /// this middleware hands the connection on, so without this a silent socket would be held for ever.</param>
    public static ListenOptions UseCleartextHttp2Detection(this ListenOptions listen, TimeSpan? openingTimeout = null)
    {
        var logger = listen.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(CleartextHttp2).FullName!);
        var time = listen.ApplicationServices.GetService<TimeProvider>() ?? TimeProvider.System;
        var timeout = openingTimeout ?? DefaultOpeningTimeout;
        listen.Use(next => async connection =>
        {
            Opening opening;
            using (var deadline = new CancellationTokenSource(timeout, time))
            {
                opening = await ReadOpeningAsync(connection.Transport.Input, deadline.Token);
            }

            switch (opening)
            {
                case Opening.Http2:
                    connection.Features.Set<ITlsConnectionFeature>(new PriorKnowledge());
                    connection.Features.Set<ITlsApplicationProtocolFeature>(new PriorKnowledge());
                    await next(connection);
                    break;
                case Opening.Http1:
                    await using (var tolerant = new HalfCloseTolerantConnection(connection))
                    {
                        await next(tolerant);
                    }

                    break;
                case Opening.TooSlow:
                    LogTooSlow(logger, connection.ConnectionId, timeout);
                    break;
                default:
                    LogEndedBeforeRequest(logger, connection.ConnectionId);
                    break;
            }
        });
        return listen;
    }

    private static async Task<Opening> ReadOpeningAsync(PipeReader input, CancellationToken deadline)
    {
        while (true)
        {
            ReadResult result;
            try
            {
                // Not the transport's ConnectionClosed: it fires on the client's FIN, while the bytes sent before it
                // are still waiting here. The read ends by itself when the connection does (completed on FIN, an
                // exception on a reset or when Kestrel aborts the connection at shutdown), or at the deadline.
                result = await input.ReadAsync(deadline);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                return Opening.TooSlow;
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                return Opening.Nothing;
            }

            var buffer = result.Buffer;
            if (buffer.IsEmpty && result.IsCompleted)
            {
                input.AdvanceTo(buffer.Start);
                return Opening.Nothing;
            }

            var length = (int)Math.Min(buffer.Length, Preface.Length);
            var matches = StartsLikePreface(buffer, length);
            if (!matches || length == Preface.Length || result.IsCompleted)
            {
                // Nothing consumed: Kestrel's own parser sees every byte (a cut-off preface is its to refuse).
                input.AdvanceTo(buffer.Start);
                return matches && length == Preface.Length ? Opening.Http2 : Opening.Http1;
            }

            // A prefix of the preface so far: look again once more bytes arrive.
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static bool StartsLikePreface(ReadOnlySequence<byte> buffer, int length)
    {
        Span<byte> start = stackalloc byte[Preface.Length];
        buffer.Slice(0, length).CopyTo(start);
        return start[..length].SequenceEqual(Preface.AsSpan(0, length));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "connection {ConnectionId} was closed: it sent no request within {Timeout} (Ingress:RequestHeadersTimeout)")]
    private static partial void LogTooSlow(ILogger logger, string connectionId, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Debug, Message = "connection {ConnectionId} ended before it sent a request")]
    private static partial void LogEndedBeforeRequest(ILogger logger, string connectionId);

    private sealed class PriorKnowledge : ITlsConnectionFeature, ITlsApplicationProtocolFeature
    {
        public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; set; }

        public ReadOnlyMemory<byte> ApplicationProtocol => "h2"u8.ToArray();

        public Task<System.Security.Cryptography.X509Certificates.X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) =>
            Task.FromResult<System.Security.Cryptography.X509Certificates.X509Certificate2?>(null);
    }
}

using System.Buffers;
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
/// </remarks>
public static class CleartextHttp2
{
    // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    public static ListenOptions UseCleartextHttp2Detection(this ListenOptions listen)
    {
        listen.Use(next => async connection =>
        {
            if (await StartsWithPrefaceAsync(connection))
            {
                connection.Features.Set<ITlsConnectionFeature>(new PriorKnowledge());
                connection.Features.Set<ITlsApplicationProtocolFeature>(new PriorKnowledge());
            }

            await next(connection);
        });
        return listen;
    }

    private static async Task<bool> StartsWithPrefaceAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(connection.ConnectionClosed);
            var buffer = result.Buffer;
            var length = (int)Math.Min(buffer.Length, Preface.Length);
            var start = new byte[length];
            buffer.Slice(0, length).CopyTo(start);
            var matches = start.AsSpan().SequenceEqual(Preface.AsSpan(0, length));
            if (!matches || length == Preface.Length || result.IsCompleted)
            {
                // Nothing consumed: Kestrel's own parser sees every byte.
                input.AdvanceTo(buffer.Start);
                return matches && length == Preface.Length;
            }

            // A prefix of the preface so far: look again once more bytes arrive.
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private sealed class PriorKnowledge : ITlsConnectionFeature, ITlsApplicationProtocolFeature
    {
        public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; set; }

        public ReadOnlyMemory<byte> ApplicationProtocol => "h2"u8.ToArray();

        public Task<System.Security.Cryptography.X509Certificates.X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) =>
            Task.FromResult<System.Security.Cryptography.X509Certificates.X509Certificate2?>(null);
    }
}

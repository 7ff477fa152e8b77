using System.Net.Security;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace WebhookConnect.ServiceDefaults.Tls;

/// <summary>Turns TLS on for a Kestrel listener when its <see cref="TlsListenerOptions"/> name certificate files.</summary>
public static class TlsListenerExtensions
{
    /// <summary>
    /// Serves TLS on <paramref name="listen"/> with the certificate of <paramref name="tls"/>, reloaded when its files
    /// change; does nothing when <paramref name="tls"/> is not enabled. <paramref name="listener"/> names the listener
    /// in logs (e.g. <c>queue-manager internal</c>). ALPN offers the listener's protocols (h2 for gRPC).
    /// </summary>
    public static ListenOptions UseTls(this ListenOptions listen, TlsListenerOptions tls, string listener)
    {
        if (!tls.Enabled)
        {
            return listen;
        }

        var logger = listen.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ReloadingCertificate).FullName!);
        var certificate = new ReloadingCertificate(listener, tls, logger);
        var protocols = ApplicationProtocols(listen.Protocols);
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = _ => ValueTask.FromResult(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = certificate.Current,
                ApplicationProtocols = protocols,
            }),
        });
        return listen;
    }

    private static List<SslApplicationProtocol> ApplicationProtocols(HttpProtocols protocols)
    {
        var list = new List<SslApplicationProtocol>();
        if (protocols.HasFlag(HttpProtocols.Http2))
        {
            list.Add(SslApplicationProtocol.Http2);
        }

        if (protocols.HasFlag(HttpProtocols.Http1))
        {
            list.Add(SslApplicationProtocol.Http11);
        }

        return list;
    }
}

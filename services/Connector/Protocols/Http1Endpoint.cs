using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.ServiceDefaults.Grpc;

namespace WebhookConnect.Connector.Protocols;

/// <summary>
/// queue-manager's HTTP/1.1 connector port (SPEC §14: 5003) as the connector reaches it: one
/// <see cref="SocketsHttpHandler"/> with the same TLS settings as the gRPC channel (CA file, client certificate),
/// shared by every subscription's WebSocket, SSE and long-poll connections and their <c>POST /connect/ack</c>.
/// </summary>
public sealed class Http1Endpoint : IDisposable
{
    private readonly SocketsHttpHandler _handler;

    public Http1Endpoint(QueueManagerConnectionOptions options)
    {
        BaseUri = options.HttpUri;
        KeepAliveInterval = options.KeepAliveInterval;
        _handler = new SocketsHttpHandler
        {
            // Connections wait in long-polls and SSE streams: no pool limit of our own beyond the server's.
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            UseProxy = true,
        };
        if (BaseUri.Scheme == "https")
        {
            var ssl = new SslClientAuthenticationOptions();
            if (options.ClientCertFile.Length > 0)
            {
                var certificate = X509Certificate2.CreateFromPemFile(options.ClientCertFile, options.ClientKeyFile);
                ssl.ClientCertificates = [X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null)];
            }

            _handler.SslOptions = ssl;
            if (options.CaFile.Length > 0)
            {
                GrpcClientDefaults.TrustAuthorities(_handler, options.CaFile);
            }
        }

        Http = new HttpClient(_handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary><c>http(s)://host:port/</c>.</summary>
    public Uri BaseUri { get; }

    public TimeSpan KeepAliveInterval { get; }

    /// <summary>For SSE, polls and acks; requests carry their own deadlines.</summary>
    public HttpClient Http { get; }

    /// <summary>For <see cref="System.Net.WebSockets.ClientWebSocket.ConnectAsync(Uri, HttpMessageInvoker, CancellationToken)"/>.</summary>
    public HttpMessageInvoker Invoker => Http;

    public Uri Path(string relative) => new(BaseUri, relative);

    /// <summary>The same address with <c>ws://</c> / <c>wss://</c>.</summary>
    public Uri WebSocketPath(string relative)
    {
        var builder = new UriBuilder(Path(relative)) { Scheme = BaseUri.Scheme == "https" ? "wss" : "ws" };
        return builder.Uri;
    }

    public void Dispose()
    {
        Http.Dispose();
        _handler.Dispose();
    }
}

using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Grpc.Client;

namespace WebhookConnect.Connector.Streams;

/// <summary>Builds the one gRPC channel (one HTTP/2 connection) that every subscription's stream shares.</summary>
public static class QueueManagerChannelFactory
{
    public static GrpcChannel Create(QueueManagerConnectionOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            KeepAlivePingDelay = options.KeepAliveInterval,
            KeepAlivePingTimeout = options.KeepAliveTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            // Several subscriptions may exceed one connection's stream limit only in theory; allow it anyway.
            EnableMultipleHttp2Connections = true,
            UseProxy = false,
        };

        if (!options.Insecure)
        {
            var ssl = new SslClientAuthenticationOptions();
            if (options.ClientCertFile.Length > 0)
            {
                var certificate = X509Certificate2.CreateFromPemFile(options.ClientCertFile, options.ClientKeyFile);
                ssl.ClientCertificates = [X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null)];
            }

            if (options.CaFile.Length > 0)
            {
                var authorities = new X509Certificate2Collection();
                authorities.ImportFromPemFile(options.CaFile);
                ssl.CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    RevocationMode = X509RevocationMode.NoCheck,
                };
                ssl.CertificateChainPolicy.CustomTrustStore.AddRange(authorities);
            }

            handler.SslOptions = ssl;
        }

        return GrpcChannel.ForAddress(options.Uri, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpHandler = true });
    }
}

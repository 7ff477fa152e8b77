using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.ServiceDefaults.Grpc;

namespace WebhookConnect.Connector.Streams;

/// <summary>Builds the one gRPC channel that every subscription's stream shares (one HTTP/2 connection per
/// queue-manager address; more when streams exceed a connection's limit).</summary>
public static class QueueManagerChannelFactory
{
    public static GrpcChannel Create(QueueManagerConnectionOptions options)
    {
        var handler = GrpcClientDefaults.CreateHandler();
        handler.KeepAlivePingDelay = options.KeepAliveInterval;
        handler.KeepAlivePingTimeout = options.KeepAliveTimeout;

        if (!options.Insecure)
        {
            var ssl = new SslClientAuthenticationOptions();
            if (options.ClientCertFile.Length > 0)
            {
                var certificate = X509Certificate2.CreateFromPemFile(options.ClientCertFile, options.ClientKeyFile);
                ssl.ClientCertificates = [X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null)];
            }

            handler.SslOptions = ssl;
            if (options.CaFile.Length > 0)
            {
                GrpcClientDefaults.TrustAuthorities(handler, options.CaFile);
            }
        }

        return GrpcClientDefaults.CreateChannel(options.IsBalanced ? options.Address : options.Uri.ToString(), handler, tls: !options.Insecure);
    }
}

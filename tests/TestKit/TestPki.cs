using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace WebhookConnect.TestKit;

/// <summary>
/// A private CA made for one test (<c>CertificateRequest</c>, RSA 2048), its certificate in <see cref="CaFile"/>, and
/// certificates it issues as PEM files in <see cref="Directory"/>: server certificates for 127.0.0.1 and localhost,
/// client certificates for mutual TLS. <see cref="Handler"/> gives an HTTP handler that trusts only this CA.
/// </summary>
public sealed class TestPki : IDisposable
{
    private readonly X509Certificate2 _ca;

    private TestPki(string directory, X509Certificate2 ca, string caFile)
    {
        Directory = directory;
        _ca = ca;
        CaFile = caFile;
    }

    public string Directory { get; }

    /// <summary>PEM file of the CA certificate.</summary>
    public string CaFile { get; }

    public static TestPki Create()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("wc-pki-").FullName;
        using var caKey = RSA.Create(2048);
        var request = new CertificateRequest("CN=webhook-connect test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        var ca = request.CreateSelfSigned(now, now.AddDays(1));
        var caFile = Path.Combine(directory, "ca.pem");
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        return new TestPki(directory, ca, caFile);
    }

    /// <summary>Issues a server certificate for 127.0.0.1 and localhost and writes <c>{name}.crt</c> and
    /// <c>{name}.key</c>; issuing again under the same name replaces the files (each by an atomic rename, the way a
    /// Kubernetes Secret update or cert-manager renews them).</summary>
    public IssuedCertificate IssueServer(string name) => Issue(name, "CN=" + name, serverAuth: true);

    /// <summary>Issues a client certificate (<c>clientAuth</c>) and writes its files like <see cref="IssueServer"/>.</summary>
    public IssuedCertificate IssueClient(string name) => Issue(name, "CN=" + name, serverAuth: false);

    /// <summary>A handler that trusts this CA only (and checks the host name), optionally recording the certificate
    /// each new connection was shown.</summary>
    public SocketsHttpHandler Handler(Action<X509Certificate2>? seen = null) => new()
    {
        SslOptions =
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is null)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                chain.ChainPolicy.CustomTrustStore.Add(_ca);
                var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                seen?.Invoke(leaf);
                return chain.Build(leaf) && leaf.MatchesHostname("127.0.0.1");
            },
        },
    };

    private IssuedCertificate Issue(string name, string subject, bool serverAuth)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
        }

        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        using var issued = request.Create(_ca, now, now.AddHours(12), RandomNumberGenerator.GetBytes(8));
        using var withKey = issued.CopyWithPrivateKey(key);
        var certificate = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        var certificateFile = Path.Combine(Directory, name + ".crt");
        var keyFile = Path.Combine(Directory, name + ".key");
        WriteAtomically(keyFile, key.ExportPkcs8PrivateKeyPem());
        WriteAtomically(certificateFile, certificate.ExportCertificatePem());
        return new IssuedCertificate(certificate, certificateFile, keyFile);
    }

    private static void WriteAtomically(string path, string content)
    {
        var temporary = path + ".new";
        File.WriteAllText(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }

    public void Dispose()
    {
        _ca.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A certificate with its private key, and the PEM files it was written to.</summary>
public sealed record IssuedCertificate(X509Certificate2 Certificate, string CertificateFile, string KeyFile)
{
    public string Thumbprint => Certificate.Thumbprint;
}

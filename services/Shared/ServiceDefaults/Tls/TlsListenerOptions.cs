using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;

namespace WebhookConnect.ServiceDefaults.Tls;

/// <summary>
/// TLS for one listener, from PEM files (a mounted Kubernetes TLS Secret: <c>tls.crt</c>, <c>tls.key</c>). Both empty
/// (the default): the listener is plaintext, for loopback, a mesh that adds mTLS, or a proxy that ends TLS. Both set:
/// the listener speaks only TLS (HTTP/2 and HTTP/1.1 by ALPN), and the files are read again when they change, so a
/// renewed certificate (cert-manager) is served to new connections without a restart (<see cref="ReloadingCertificate"/>).
/// </summary>
public sealed class TlsListenerOptions : IValidatableObject
{
    /// <summary>PEM certificate: the server's certificate first, then any intermediates to send with it.</summary>
    public string CertificateFile { get; set; } = "";

    /// <summary>PEM private key (PKCS#8, PKCS#1 or SEC1, unencrypted) of <see cref="CertificateFile"/>.</summary>
    public string KeyFile { get; set; } = "";

    /// <summary>True when this listener serves TLS.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Enabled => CertificateFile.Length > 0 || KeyFile.Length > 0;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Enabled)
        {
            yield break;
        }

        if (CertificateFile.Length == 0 || KeyFile.Length == 0)
        {
            yield return new ValidationResult(
                "TLS needs both CertificateFile and KeyFile (PEM); set both, or neither for a plaintext listener.",
                [CertificateFile.Length == 0 ? nameof(CertificateFile) : nameof(KeyFile)]);
            yield break;
        }

        var missing = false;
        foreach (var (name, path) in new[] { (nameof(CertificateFile), CertificateFile), (nameof(KeyFile), KeyFile) })
        {
            if (!File.Exists(path))
            {
                missing = true;
                yield return new ValidationResult("file not found.", [name]);
            }
        }

        if (missing)
        {
            yield break;
        }

        string? problem;
        try
        {
            using var loaded = ReloadingCertificate.Load(CertificateFile, KeyFile);
            var notAfter = loaded.Certificate.NotAfter.ToUniversalTime();
            problem = notAfter < DateTime.UtcNow ? $"the certificate expired on {notAfter:yyyy-MM-dd HH:mm:ss} UTC." : null;
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            problem = $"cannot be used with KeyFile '{KeyFile}': {ex.Message}";
        }

        if (problem is not null)
        {
            yield return new ValidationResult(problem, [nameof(CertificateFile)]);
        }
    }
}

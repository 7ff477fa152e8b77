using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace WebhookConnect.ServiceDefaults.Tls;

/// <summary>
/// A listener's certificate from PEM files, read again when their contents change, so a renewed certificate reaches
/// new connections without a restart; connections already open keep theirs.
/// </summary>
/// <remarks>
/// Hand-written because Kestrel reloads certificates only for endpoints declared in its own configuration section
/// (<c>Kestrel:Endpoints</c>), and ours are declared in code (<c>Listen</c>) with the port-scoped services. It compares
/// the files' bytes at most once per <see cref="CheckInterval"/>, on a handshake: a stat would miss a Kubernetes Secret
/// update (an atomic swap of a <c>..data</c> symlink keeps the old timestamps visible through some paths) and a
/// <c>FileSystemWatcher</c> misses it outright; two small reads a second cost nothing. A pair that does not load (the
/// certificate written, the key not yet) keeps the previous certificate and is tried again at the next check.
/// </remarks>
public sealed partial class ReloadingCertificate
{
    /// <summary>How often a handshake may look at the files.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly string _listener;
    private readonly string _certificateFile;
    private readonly string _keyFile;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private Loaded _current;
    private long _nextCheck;

    public ReloadingCertificate(string listener, TlsListenerOptions options, ILogger logger, TimeProvider? time = null)
    {
        _listener = listener;
        _certificateFile = options.CertificateFile;
        _keyFile = options.KeyFile;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _current = Load(_certificateFile, _keyFile);
        _nextCheck = _time.GetTimestamp() + Ticks(CheckInterval);
        LogLoaded(_logger, _listener, _current.Certificate.Subject, _current.Certificate.Thumbprint, _current.Certificate.NotAfter.ToUniversalTime());
    }

    /// <summary>The certificate (with its intermediates) to offer in a handshake now.</summary>
    public SslStreamCertificateContext Current
    {
        get
        {
            var now = _time.GetTimestamp();
            if (now < Volatile.Read(ref _nextCheck))
            {
                return _current.Context;
            }

            lock (_gate)
            {
                if (now >= _nextCheck)
                {
                    _nextCheck = now + Ticks(CheckInterval);
                    Refresh();
                }

                return _current.Context;
            }
        }
    }

    /// <summary>Loads a certificate and its key from PEM files; throws <see cref="CryptographicException"/> when they
    /// do not make a usable pair.</summary>
    public static Loaded Load(string certificateFile, string keyFile)
    {
        var certificatePem = File.ReadAllBytes(certificateFile);
        var keyPem = File.ReadAllBytes(keyFile);
        return Load(certificatePem, keyPem);
    }

    private static Loaded Load(byte[] certificatePem, byte[] keyPem)
    {
        var certificateText = System.Text.Encoding.ASCII.GetString(certificatePem);
        var leaf = X509Certificate2.CreateFromPem(certificateText, System.Text.Encoding.ASCII.GetString(keyPem));
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(certificateText);
        var intermediates = new X509Certificate2Collection();
        foreach (var certificate in chain.Skip(1))
        {
            intermediates.Add(certificate);
        }

        // offline: the chain is what the file says; no network fetch of intermediates or revocation during start-up.
        var context = SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
        return new Loaded(leaf, context, certificatePem, keyPem);
    }

    private void Refresh()
    {
        byte[] certificatePem, keyPem;
        try
        {
            certificatePem = File.ReadAllBytes(_certificateFile);
            keyPem = File.ReadAllBytes(_keyFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogReloadFailed(_logger, _listener, ex.Message);
            return;
        }

        if (certificatePem.AsSpan().SequenceEqual(_current.CertificatePem) && keyPem.AsSpan().SequenceEqual(_current.KeyPem))
        {
            return;
        }

        try
        {
            _current = Load(certificatePem, keyPem);
            LogLoaded(_logger, _listener, _current.Certificate.Subject, _current.Certificate.Thumbprint, _current.Certificate.NotAfter.ToUniversalTime());
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            LogReloadFailed(_logger, _listener, ex.Message);
        }
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    /// <summary>A loaded certificate, its handshake context and the file contents it came from.</summary>
    public sealed record Loaded(X509Certificate2 Certificate, SslStreamCertificateContext Context, byte[] CertificatePem, byte[] KeyPem) : IDisposable
    {
        public void Dispose() => Certificate.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "TLS on the {Listener} listener: certificate {Subject} (thumbprint {Thumbprint}, valid until {NotAfter:u})")]
    private static partial void LogLoaded(ILogger logger, string listener, string subject, string thumbprint, DateTime notAfter);

    [LoggerMessage(Level = LogLevel.Warning, Message = "TLS on the {Listener} listener: the certificate files changed but cannot be used ({Reason}); still serving the previous certificate")]
    private static partial void LogReloadFailed(ILogger logger, string listener, string reason);
}

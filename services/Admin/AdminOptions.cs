using System.ComponentModel.DataAnnotations;
using System.Net;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.ServiceDefaults.Tls;

namespace WebhookConnect.Admin;

/// <summary>Settings of the admin service (configuration section <c>Admin</c>).</summary>
public sealed class AdminOptions : IValidatableObject
{
    public const string SectionName = "Admin";

    /// <summary>The shortest token accepted, of any kind: a token is a secret, not a password to remember.</summary>
    public const int MinimumTokenLength = 32;

    /// <summary>Admin tokens with full access, comma-separated (<c>Admin__Tokens</c>). At least one token, from here
    /// or <see cref="TokenFile"/>, is required.</summary>
    [DataType(DataType.Password)]
    public string Tokens { get; set; } = "";

    /// <summary>A file with one full-access token per line (a mounted secret), re-read while running.</summary>
    public string TokenFile { get; set; } = "";

    /// <summary>Tokens that may read settings, stats and message contents (bodies, headers), comma-separated.</summary>
    [DataType(DataType.Password)]
    public string ContentsTokens { get; set; } = "";

    /// <summary>A file with one contents token per line, re-read while running.</summary>
    public string ContentsTokenFile { get; set; } = "";

    /// <summary>Tokens that may read settings and stats only (no message contents, no change), comma-separated.</summary>
    [DataType(DataType.Password)]
    public string ReadOnlyTokens { get; set; } = "";

    /// <summary>A file with one read-only token per line, re-read while running.</summary>
    public string ReadOnlyTokenFile { get; set; } = "";

    /// <summary>A file the audit records are appended to as JSON lines (created 0600), besides the log category
    /// <c>WebhookConnect.Admin.Audit</c>. Empty: the log category only.</summary>
    public string AuditFile { get; set; } = "";

    /// <summary>Directories a channels file's <c>*_file</c> keys may read from, comma-separated absolute paths.
    /// Empty: the channels file's own directory only.</summary>
    public string ChannelsFileSecretDirectories { get; set; } = "";

    /// <summary>Prefixes an environment variable named by a channels file's <c>*_env</c> key must start with,
    /// comma-separated (e.g. <c>WC_SECRET_</c>). Empty: any variable whose name has no <c>__</c> (so never one of
    /// the service's own settings, such as <c>Admin__Tokens</c>).</summary>
    public string ChannelsFileEnvPrefixes { get; set; } = "";

    /// <summary>The queue-manager's internal gRPC address (its internal admin API, port 5004): <c>http://host:port</c>,
    /// or <c>dns:///host:port</c> / <c>static:///host1:port1,host2:port2</c> to spread calls round-robin over every
    /// address of a headless Service or of the list.</summary>
    [Required]
    public string QueueManager { get; set; } = "http://127.0.0.1:5004";

    /// <summary>The queue-manager's internal token, when it has one (<c>QueueManager:InternalToken</c> there).</summary>
    [DataType(DataType.Password)]
    public string QueueManagerToken { get; set; } = "";

    /// <summary>A file holding <see cref="QueueManagerToken"/> (a mounted secret); read at start-up, surrounding
    /// whitespace ignored. Wins over <see cref="QueueManagerToken"/> when both are set.</summary>
    public string QueueManagerTokenFile { get; set; } = "";

    /// <summary>The internal token to send: from <see cref="QueueManagerTokenFile"/> when set, else
    /// <see cref="QueueManagerToken"/>.</summary>
    public string EffectiveQueueManagerToken() =>
        BearerToken.Configured(QueueManagerToken, QueueManagerTokenFile);

    /// <summary>Address of the gRPC and HTTP listeners.</summary>
    [Required]
    public string Host { get; set; } = ServiceDefaults.ListenerDefaults.Host;

    /// <summary>gRPC port (h2c): AdminService, reflection, health.</summary>
    [Range(1, 65535)]
    public int GrpcPort { get; set; } = 5002;

    /// <summary>A YAML or JSON file of channels applied at start-up and on change (create or update, never delete);
    /// see docs/admin.md. Empty: none.</summary>
    public string ChannelsFile { get; set; } = "";

    /// <summary>HTTP/JSON twin port (HTTP/1.1): <c>/admin/webhook-connect/…</c> for curl users.</summary>
    [Range(1, 65535)]
    public int HttpPort { get; set; } = 8082;

    /// <summary>TLS for both ports, gRPC and the HTTP/JSON twin (PEM files, reloaded on change); empty: plaintext.</summary>
    public TlsListenerOptions Tls { get; set; } = new();

    /// <summary>PEM file of the CA(s) that signed queue-manager's internal certificate (<c>QueueManager:InternalTls</c>),
    /// trusted instead of the system store; needs an <c>https://</c> address, and turns TLS on for <c>dns:///</c> and
    /// <c>static:///</c> ones. Empty (default): the system store for <c>https://</c>, cleartext otherwise.</summary>
    public string QueueManagerCaFile { get; set; } = "";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(Host, out _))
        {
            yield return new ValidationResult("must be an IP address, e.g. 0.0.0.0 or 127.0.0.1.", [nameof(Host)]);
        }

        if (!GrpcClientDefaults.IsValidAddress(QueueManager, out var addressProblem))
        {
            yield return new ValidationResult($"{addressProblem}: use e.g. http://queue-manager:5004 or dns:///queue-manager-headless:5004.", [nameof(QueueManager)]);
        }

        if (QueueManagerTokenFile.Length > 0 && !File.Exists(QueueManagerTokenFile))
        {
            yield return new ValidationResult("file not found (the queue-manager token file).", [nameof(QueueManagerTokenFile)]);
        }

        if (GrpcClientDefaults.CaFileProblem(QueueManager, QueueManagerCaFile) is { } caProblem)
        {
            yield return new ValidationResult(caProblem, [nameof(QueueManagerCaFile)]);
        }

        foreach (var (name, list) in new[] { (nameof(Tokens), Tokens), (nameof(ContentsTokens), ContentsTokens), (nameof(ReadOnlyTokens), ReadOnlyTokens) })
        {
            if (TooShort(Split(list)) is { } entry)
            {
                yield return new ValidationResult($"token number {entry} is shorter than {MinimumTokenLength} characters: generate one with e.g. 'openssl rand -hex 32'.", [name]);
            }
        }

        foreach (var (name, path) in new[] { (nameof(TokenFile), TokenFile), (nameof(ContentsTokenFile), ContentsTokenFile), (nameof(ReadOnlyTokenFile), ReadOnlyTokenFile) })
        {
            if (path.Length == 0)
            {
                continue;
            }

            string[]? tokens = null;
            string? problem = null;
            try
            {
                tokens = Split(File.ReadAllText(path));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                problem = ex is FileNotFoundException or DirectoryNotFoundException ? "file not found." : $"cannot read it: {ex.Message}";
            }

            if (problem is not null)
            {
                yield return new ValidationResult(problem, [name]);
            }
            else if (TooShort(tokens!) is { } entry)
            {
                yield return new ValidationResult($"'{path}': token number {entry} is shorter than {MinimumTokenLength} characters: generate one with e.g. 'openssl rand -hex 32'.", [name]);
            }
        }

        if (AuditFile.Length > 0 && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(AuditFile))))
        {
            yield return new ValidationResult("its directory does not exist.", [nameof(AuditFile)]);
        }

        foreach (var directory in Split(ChannelsFileSecretDirectories))
        {
            if (!Path.IsPathFullyQualified(directory))
            {
                yield return new ValidationResult($"'{directory}' is not an absolute path.", [nameof(ChannelsFileSecretDirectories)]);
            }
        }

        if (ChannelsFile.Length > 0)
        {
            string? problem = null;
            try
            {
                Declarative.ChannelsFile.Load(ChannelsFile, Environment.GetEnvironmentVariable, Declarative.SubstitutionPolicy.From(this));
            }
            catch (Declarative.ChannelsFileException ex)
            {
                problem = ex.Message;
            }

            if (problem is not null)
            {
                yield return new ValidationResult(problem, [nameof(ChannelsFile)]);
            }
        }

        if (Split(Tokens).Length == 0 && TokenFile.Length == 0)
        {
            yield return new ValidationResult(
                "no admin token: set Admin:Tokens (env Admin__Tokens) or Admin:TokenFile; the admin API refuses to run open.",
                [nameof(Tokens)]);
        }
    }

    /// <summary>The 1-based number of the first token shorter than <see cref="MinimumTokenLength"/>, or null. Never
    /// the token itself: a refusal names the setting and the entry.</summary>
    internal static int? TooShort(string[] tokens)
    {
        for (var i = 0; i < tokens.Length; i++)
        {
            if (tokens[i].Length < MinimumTokenLength)
            {
                return i + 1;
            }
        }

        return null;
    }

    internal static string[] Split(string list) => list.Split([',', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

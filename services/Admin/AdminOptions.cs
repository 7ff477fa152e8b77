using System.ComponentModel.DataAnnotations;
using System.Net;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.ServiceDefaults.Tls;

namespace WebhookConnect.Admin;

/// <summary>Settings of the admin service (configuration section <c>Admin</c>).</summary>
public sealed class AdminOptions : IValidatableObject
{
    public const string SectionName = "Admin";

    /// <summary>Admin tokens with full access, comma-separated (<c>Admin__Tokens</c>). At least one token, from here
    /// or <see cref="TokenFile"/>, is required.</summary>
    public string Tokens { get; set; } = "";

    /// <summary>A file with one full-access token per line (a mounted secret).</summary>
    public string TokenFile { get; set; } = "";

    /// <summary>Tokens that may call only the read methods, comma-separated.</summary>
    public string ReadOnlyTokens { get; set; } = "";

    /// <summary>A file with one read-only token per line.</summary>
    public string ReadOnlyTokenFile { get; set; } = "";

    /// <summary>The queue-manager's internal gRPC address (its internal admin API, port 5004): <c>http://host:port</c>,
    /// or <c>dns:///host:port</c> / <c>static:///host1:port1,host2:port2</c> to spread calls round-robin over every
    /// address of a headless Service or of the list.</summary>
    [Required]
    public string QueueManager { get; set; } = "http://127.0.0.1:5004";

    /// <summary>The queue-manager's internal token, when it has one (<c>QueueManager:InternalToken</c> there).</summary>
    public string QueueManagerToken { get; set; } = "";

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

        if (GrpcClientDefaults.CaFileProblem(QueueManager, QueueManagerCaFile) is { } caProblem)
        {
            yield return new ValidationResult(caProblem, [nameof(QueueManagerCaFile)]);
        }

        foreach (var (name, path) in new[] { (nameof(TokenFile), TokenFile), (nameof(ReadOnlyTokenFile), ReadOnlyTokenFile) })
        {
            if (path.Length > 0 && !File.Exists(path))
            {
                yield return new ValidationResult("file not found.", [name]);
            }
        }

        if (ChannelsFile.Length > 0)
        {
            string? problem = null;
            try
            {
                Declarative.ChannelsFile.Load(ChannelsFile, Environment.GetEnvironmentVariable);
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

    internal static string[] Split(string list) => list.Split([',', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

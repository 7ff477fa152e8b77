using System.ComponentModel.DataAnnotations;
using System.Net;
using WebhookConnect.ServiceDefaults.Tls;

namespace WebhookConnect.ServiceDefaults;

/// <summary>
/// Where <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c> listen (configuration section <c>Management</c>).
/// Kept off the traffic port so probes and scrapes never compete with, or get exposed alongside, webhooks.
/// </summary>
public sealed class ManagementOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Management";

    /// <summary>An IP address, <c>localhost</c>, or <c>*</c> for every IPv4 and IPv6 address. Default <c>127.0.0.1</c>
    /// (see <see cref="ListenerDefaults.Host"/>).</summary>
    [Required]
    public string Host { get; set; } = ListenerDefaults.Host;

    /// <summary>The TCP port. Default: <see cref="ServiceDefaultsSettings.DefaultManagementPort"/>.</summary>
    [Range(1, 65535)]
    public int Port { get; set; }

    /// <summary>TLS for the management listener (optional; probes and scrapes usually stay inside the pod network).
    /// Empty: plaintext.</summary>
    public TlsListenerOptions Tls { get; set; } = new();

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrEmpty(Host) && !IsListenable(Host))
        {
            yield return new ValidationResult("must be an IP address, 'localhost' or '*'.", [nameof(Host)]);
        }
    }

    private static bool IsListenable(string host) =>
        host is "*" || host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || IPAddress.TryParse(host, out _);
}

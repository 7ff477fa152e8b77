using System.ComponentModel.DataAnnotations;
using System.Net;

namespace WebhookConnect.QueueManager;

/// <summary>Settings of the queue-manager (configuration section <c>QueueManager</c>).</summary>
public sealed class QueueManagerOptions : IValidatableObject
{
    public const string SectionName = "QueueManager";

    /// <summary>StackExchange.Redis configuration: endpoints and options, e.g. <c>redis:6379,password=…</c>.</summary>
    [Required]
    public string Redis { get; set; } = "127.0.0.1:6379";

    /// <summary>Address the gRPC port listens on (Publish, Connect, internal admin).</summary>
    [Required]
    public string Host { get; set; } = "0.0.0.0";

    /// <summary>The gRPC port (h2c).</summary>
    [Range(1, 65535)]
    public int Port { get; set; } = 5001;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(Host, out _))
        {
            yield return new ValidationResult("must be an IP address, e.g. 0.0.0.0 or 127.0.0.1.", [nameof(Host)]);
        }
    }
}

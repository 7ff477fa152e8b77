using Microsoft.Extensions.Options;

namespace WebhookConnect.QueueManager.Streams;

/// <summary>This process's replica id: configured, or the host name (the pod name on Kubernetes) with a random
/// suffix so that a restarted process is a new replica.</summary>
public sealed class ReplicaIdentity(IOptions<QueueManagerOptions> options)
{
    public string Id { get; } = string.IsNullOrWhiteSpace(options.Value.ReplicaId)
        ? $"{Environment.MachineName.ToLowerInvariant()}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3))}"
        : options.Value.ReplicaId;

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;
}

namespace WebhookConnect.ServiceDefaults;

/// <summary>Where every listener of ours binds unless configured (issue 20, finding 12).</summary>
public static class ListenerDefaults
{
    /// <summary>
    /// <c>127.0.0.1</c>: a service started without host settings (a laptop, a VM, a test) is reachable from its own
    /// machine only, so an internal port or a management port is never exposed by forgetting a flag. The container
    /// images set <c>0.0.0.0</c> for each listener (a container's loopback cannot be reached from the pod network, and
    /// Kubernetes Services, probes and NetworkPolicies decide who reaches it there).
    /// </summary>
    public const string Host = "127.0.0.1";
}

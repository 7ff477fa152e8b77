namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>A listener of a service: the settings that choose its address and port, and the port it takes by default.</summary>
public sealed record Listener(string HostKey, string PortKey, int DefaultPort);

/// <summary>
/// What the test knows about each of the four images: which service folder builds it, its options classes by
/// configuration section (the configuration surface), its listeners (README "Configuration" tables; hosts default to
/// 127.0.0.1, services/Shared/ServiceDefaults/ListenerDefaults.cs) and the plain environment variables it reads.
/// </summary>
public sealed record ServiceImage(
    string Name,
    string Folder,
    string AssemblyName,
    IReadOnlyDictionary<string, string> Options,
    IReadOnlyList<Listener> Listeners,
    IReadOnlyList<string> PlainVariables,
    bool IsConnector = false)
{
    public const string LoopbackDefault = "127.0.0.1";

    private const string Management = "WebhookConnect.ServiceDefaults.ManagementOptions";

    private static readonly string[] SharedVariables = ["LOG_FORMAT"];

    public static IReadOnlyList<ServiceImage> All { get; } =
    [
        new("ingress", "Ingress", "WebhookConnect.Ingress",
            new Dictionary<string, string> { ["Ingress"] = "WebhookConnect.Ingress.IngressOptions", ["Management"] = Management },
            [new("Ingress:Host", "Ingress:Port", 8080), new("Management:Host", "Management:Port", 9090)],
            SharedVariables),
        new("queue-manager", "QueueManager", "WebhookConnect.QueueManager",
            new Dictionary<string, string> { ["QueueManager"] = "WebhookConnect.QueueManager.QueueManagerOptions", ["Management"] = Management },
            [new("QueueManager:Host", "QueueManager:Port", 5001), new("QueueManager:InternalHost", "QueueManager:InternalPort", 5004), new("QueueManager:HttpHost", "QueueManager:HttpPort", 5003), new("Management:Host", "Management:Port", 9091)],
            SharedVariables),
        new("admin", "Admin", "WebhookConnect.Admin",
            new Dictionary<string, string> { ["Admin"] = "WebhookConnect.Admin.AdminOptions", ["Management"] = Management },
            [new("Admin:Host", "Admin:GrpcPort", 5002), new("Admin:Host", "Admin:HttpPort", 8082), new("Management:Host", "Management:Port", 9092)],
            SharedVariables),
        new("connector", "Connector", "WebhookConnect.Connector",
            new Dictionary<string, string> { ["Connector"] = "WebhookConnect.Connector.Configuration.ConnectorOptions", ["Management"] = Management },
            [new("Management:Host", "Management:Port", 9093)],
            [.. SharedVariables, "CONNECTOR_CONFIG"],
            IsConnector: true),
    ];

    /// <summary>The image a container runs, by the last segment of its repository (<c>…/queue-manager:1.0</c> or
    /// <c>…/webhook-connect-queue-manager:1.0</c>); null for any other image.</summary>
    public static ServiceImage? Of(Container container)
    {
        var repository = container.Image.Split('@')[0];
        var lastSlash = repository.LastIndexOf('/');
        var colon = repository.IndexOf(':', lastSlash + 1);
        var name = colon < 0 ? repository[(lastSlash + 1)..] : repository[(lastSlash + 1)..colon];
        return All.FirstOrDefault(s => name == s.Name || name.EndsWith("-" + s.Name, StringComparison.Ordinal));
    }

    private ConfigurationSurface? _surface;

    /// <summary>The keys this service reads, from the built assembly.</summary>
    public ConfigurationSurface Surface => _surface ??= ConfigurationSurface.Load(AssemblyPath, Options, PlainVariables, looseSegments: IsConnector);

    public string AssemblyPath => WebhookConnect.TestKit.ServiceBinaries.Assembly(Folder, AssemblyName);

    public string OutputDirectory => Path.GetDirectoryName(AssemblyPath)!;
}

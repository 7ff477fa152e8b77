namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>The rendered objects of one or more charts installed side by side (one namespace), with lookups by name.</summary>
public sealed class RenderedRelease
{
    public RenderedRelease(string ns, IEnumerable<KubeObject> objects)
    {
        Namespace = ns;
        Objects = [.. objects];
        var duplicate = Objects.GroupBy(o => (o.Kind, Ns: o.Metadata.Namespace ?? ns, o.Metadata.Name)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            // Two charts (or a chart and the test's own Secrets) would fight over one object in a real namespace.
            throw new InvalidOperationException($"{duplicate.Key.Kind} {duplicate.Key.Name} is rendered {duplicate.Count()} times in namespace {duplicate.Key.Ns}");
        }

        Pods = [.. Objects
            .Where(o => o.Kind is "Deployment" or "StatefulSet" or "DaemonSet" && o.Spec.Template is not null)
            .Select(o => new RenderedPod(o, o.Metadata.Namespace ?? ns))];
    }

    public string Namespace { get; }

    public IReadOnlyList<KubeObject> Objects { get; }

    /// <summary>One pod per workload (the test runs one replica of each).</summary>
    public IReadOnlyList<RenderedPod> Pods { get; }

    public IEnumerable<KubeObject> Services => Objects.Where(o => o.Kind == "Service");

    public RenderedPod Pod(string workload) =>
        Pods.FirstOrDefault(p => p.Name == workload)
        ?? throw new InvalidOperationException($"no rendered workload {workload} (rendered: {string.Join(", ", Pods.Select(p => p.Name))})");

    /// <summary>A ConfigMap or Secret by kind and name; null when neither rendered nor given by the test.</summary>
    public KubeObject? Find(string kind, string name) => Objects.FirstOrDefault(o => o.Kind == kind && o.Metadata.Name == name);
}

/// <summary>A workload's pod template: the containers that run together, their volumes and labels.</summary>
public sealed class RenderedPod(KubeObject workload, string ns)
{
    public KubeObject Workload { get; } = workload;

    public string Name => Workload.Metadata.Name;

    public string Namespace { get; } = ns;

    public PodSpec Spec => Workload.Spec.Template!.Spec;

    public IReadOnlyDictionary<string, string> Labels => Workload.Spec.Template!.Metadata.Labels;

    /// <summary>Init containers (native sidecars among them) and containers.</summary>
    public IEnumerable<Container> AllContainers => Spec.InitContainers.Concat(Spec.Containers);

    /// <summary>The containers that keep running: the main ones and native sidecars (init containers with
    /// <c>restartPolicy: Always</c>).</summary>
    public IEnumerable<Container> Running => Spec.InitContainers.Where(c => c.RestartPolicy == "Always").Concat(Spec.Containers);

    public Container Container(string name) =>
        AllContainers.FirstOrDefault(c => c.Name == name)
        ?? throw new InvalidOperationException($"{Name} has no container {name} (containers: {string.Join(", ", AllContainers.Select(c => c.Name))})");

    public override string ToString() => Name;
}

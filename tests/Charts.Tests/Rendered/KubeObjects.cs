using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>
/// The few Kubernetes objects the rendered-configuration test reads (workloads, Services, ConfigMaps, Secrets), typed
/// with only the fields a pod's processes depend on. Everything else in a rendered manifest is ignored here; the
/// schema validation of the full objects is the chart tests' job.
/// </summary>
public sealed class KubeObject
{
    public string ApiVersion { get; set; } = "";

    public string Kind { get; set; } = "";

    public ObjectMeta Metadata { get; set; } = new();

    public ObjectSpec Spec { get; set; } = new();

    /// <summary>ConfigMap data (text) or Secret data (base64).</summary>
    public Dictionary<string, string>? Data { get; set; }

    /// <summary>Secret stringData (text).</summary>
    public Dictionary<string, string>? StringData { get; set; }

    /// <summary>ConfigMap binaryData (base64).</summary>
    public Dictionary<string, string>? BinaryData { get; set; }

    public override string ToString() => $"{Kind}/{Metadata.Name}";
}

public sealed class ObjectMeta
{
    public string Name { get; set; } = "";

    public string? Namespace { get; set; }

    public Dictionary<string, string> Labels { get; set; } = [];
}

/// <summary>The union of the spec fields read from Deployments, StatefulSets and Services.</summary>
public sealed class ObjectSpec
{
    public PodTemplate? Template { get; set; }

    /// <summary>A Service's selector (labels), or a workload's label selector (ignored: the template labels count).</summary>
    public Dictionary<string, object>? Selector { get; set; }

    public List<ServicePort> Ports { get; set; } = [];

    public string? ClusterIP { get; set; }

    public string? Type { get; set; }

    public List<VolumeClaimTemplate> VolumeClaimTemplates { get; set; } = [];
}

public sealed class VolumeClaimTemplate
{
    public ObjectMeta Metadata { get; set; } = new();
}

public sealed class ServicePort
{
    public string? Name { get; set; }

    public int Port { get; set; }

    /// <summary>A number or a container port's name; absent means <see cref="Port"/>.</summary>
    public string? TargetPort { get; set; }
}

public sealed class PodTemplate
{
    public ObjectMeta Metadata { get; set; } = new();

    public PodSpec Spec { get; set; } = new();
}

public sealed class PodSpec
{
    public List<Container> InitContainers { get; set; } = [];

    public List<Container> Containers { get; set; } = [];

    public List<Volume> Volumes { get; set; } = [];
}

public sealed class Container
{
    public string Name { get; set; } = "";

    public string Image { get; set; } = "";

    public List<string>? Command { get; set; }

    public List<string>? Args { get; set; }

    public string? WorkingDir { get; set; }

    public List<EnvVar> Env { get; set; } = [];

    public List<EnvFromSource> EnvFrom { get; set; } = [];

    public List<ContainerPort> Ports { get; set; } = [];

    public List<VolumeMount> VolumeMounts { get; set; } = [];

    public Probe? LivenessProbe { get; set; }

    public Probe? ReadinessProbe { get; set; }

    public Probe? StartupProbe { get; set; }

    /// <summary><c>Always</c> on an init container: a native sidecar (Kubernetes 1.29+), running beside the main containers.</summary>
    public string? RestartPolicy { get; set; }

    public ResourceRequirements? Resources { get; set; }

    public override string ToString() => Name;
}

public sealed class ResourceRequirements
{
    public Dictionary<string, string>? Limits { get; set; }

    public Dictionary<string, string>? Requests { get; set; }
}

public sealed class ContainerPort
{
    public string? Name { get; set; }

    /// <summary><c>containerPort</c>: the C# property cannot share its class's name.</summary>
    [YamlMember(Alias = "containerPort")]
    public int Number { get; set; }

    public string? Protocol { get; set; }
}

public sealed class EnvVar
{
    public string Name { get; set; } = "";

    public string? Value { get; set; }

    public EnvVarSource? ValueFrom { get; set; }
}

public sealed class EnvVarSource
{
    public KeySelector? SecretKeyRef { get; set; }

    public KeySelector? ConfigMapKeyRef { get; set; }

    public FieldSelector? FieldRef { get; set; }

    public ResourceFieldSelector? ResourceFieldRef { get; set; }
}

public sealed class KeySelector
{
    public string Name { get; set; } = "";

    public string Key { get; set; } = "";

    public bool Optional { get; set; }
}

public sealed class FieldSelector
{
    public string FieldPath { get; set; } = "";
}

public sealed class ResourceFieldSelector
{
    public string? ContainerName { get; set; }

    public string Resource { get; set; } = "";

    public string? Divisor { get; set; }
}

public sealed class EnvFromSource
{
    public string? Prefix { get; set; }

    public NameRef? ConfigMapRef { get; set; }

    public NameRef? SecretRef { get; set; }
}

public sealed class NameRef
{
    public string Name { get; set; } = "";

    public bool Optional { get; set; }
}

public sealed class VolumeMount
{
    public string Name { get; set; } = "";

    public string MountPath { get; set; } = "";

    public string? SubPath { get; set; }

    public bool ReadOnly { get; set; }
}

public sealed class Volume
{
    public string Name { get; set; } = "";

    public ConfigMapVolume? ConfigMap { get; set; }

    public SecretVolume? Secret { get; set; }

    public ProjectedVolume? Projected { get; set; }

    public Dictionary<string, object>? EmptyDir { get; set; }

    public Dictionary<string, object>? PersistentVolumeClaim { get; set; }
}

public sealed class ConfigMapVolume
{
    public string Name { get; set; } = "";

    public List<KeyToPath>? Items { get; set; }

    public bool Optional { get; set; }
}

public sealed class SecretVolume
{
    public string SecretName { get; set; } = "";

    public List<KeyToPath>? Items { get; set; }

    public bool Optional { get; set; }
}

public sealed class ProjectedVolume
{
    public List<ProjectionSource> Sources { get; set; } = [];
}

public sealed class ProjectionSource
{
    public ConfigMapVolume? ConfigMap { get; set; }

    /// <summary>A projected secret names its Secret with <c>name</c> (not <c>secretName</c>).</summary>
    public ConfigMapVolume? Secret { get; set; }
}

public sealed class KeyToPath
{
    public string Key { get; set; } = "";

    public string Path { get; set; } = "";
}

public sealed class Probe
{
    public HttpGetAction? HttpGet { get; set; }

    public TcpSocketAction? TcpSocket { get; set; }

    public GrpcAction? Grpc { get; set; }

    public Dictionary<string, object>? Exec { get; set; }
}

public sealed class HttpGetAction
{
    public string Path { get; set; } = "/";

    public string Port { get; set; } = "";

    public string? Scheme { get; set; }
}

public sealed class TcpSocketAction
{
    public string Port { get; set; } = "";
}

public sealed class GrpcAction
{
    public int Port { get; set; }

    public string? Service { get; set; }
}

/// <summary>Reads <c>helm template</c> output (a multi-document YAML stream) into <see cref="KubeObject"/>s.</summary>
public static class KubeObjects
{
    private static readonly IDeserializer Loose = new DeserializerBuilder().Build();

    private static readonly ISerializer Serializer = new SerializerBuilder().Build();

    private static readonly IDeserializer Typed = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build();

    /// <summary>The kinds whose fields are typed here; other kinds are skipped.</summary>
    private static readonly HashSet<string> Read = ["Deployment", "StatefulSet", "DaemonSet", "Service", "ConfigMap", "Secret"];

    public static List<KubeObject> Parse(string yaml)
    {
        var objects = new List<KubeObject>();
        var parser = new Parser(new StringReader(yaml));
        parser.Consume<StreamStart>();
        while (parser.Accept<DocumentStart>(out _))
        {
            // Each document is read loosely first: the kinds disagree on the shape of some fields.
            var document = Loose.Deserialize<Dictionary<string, object?>>(parser);
            if (document is null || document.GetValueOrDefault("kind") is not string kind || !Read.Contains(kind))
            {
                continue;
            }

            objects.Add(Typed.Deserialize<KubeObject>(Serializer.Serialize(document)));
        }

        return objects;
    }

    /// <summary>The decoded entries of a ConfigMap (<c>data</c>, <c>binaryData</c>) or Secret (<c>data</c>, <c>stringData</c>).</summary>
    public static Dictionary<string, byte[]> Entries(KubeObject configMapOrSecret)
    {
        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var secret = configMapOrSecret.Kind == "Secret";
        foreach (var (key, value) in configMapOrSecret.Data ?? [])
        {
            entries[key] = secret ? Convert.FromBase64String(value) : Encoding.UTF8.GetBytes(value);
        }

        foreach (var (key, value) in configMapOrSecret.BinaryData ?? [])
        {
            entries[key] = Convert.FromBase64String(value);
        }

        // stringData wins over data for the same key, as the API server merges them.
        foreach (var (key, value) in configMapOrSecret.StringData ?? [])
        {
            entries[key] = Encoding.UTF8.GetBytes(value);
        }

        return entries;
    }
}

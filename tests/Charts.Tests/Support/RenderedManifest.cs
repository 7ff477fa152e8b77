using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace WebhookConnect.Charts.Tests.Support;

/// <summary>
/// A rendered manifest stream (<c>helm template</c> output) parsed with YamlDotNet into one <see cref="ManifestDocument"/>
/// per non-empty document, found by kind and name.
/// </summary>
public sealed partial class RenderedManifest
{
    private RenderedManifest(string text, IReadOnlyList<ManifestDocument> documents)
    {
        Text = text;
        Documents = documents;
    }

    /// <summary>The manifest stream as rendered.</summary>
    public string Text { get; }

    /// <summary>Every non-empty document, in rendering order.</summary>
    public IReadOnlyList<ManifestDocument> Documents { get; }

    /// <summary>Every pod template (Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod) with its owner.</summary>
    public IEnumerable<(ManifestDocument Owner, JsonObject PodSpec)> PodSpecs =>
        Documents.Select(d => (Owner: d, PodSpec: d.PodSpec)).Where(p => p.PodSpec is not null).Select(p => (p.Owner, p.PodSpec!));

    /// <summary>Parses <paramref name="text"/>; documents that are empty (a template that rendered nothing) are left out.</summary>
    /// <exception cref="YamlException">The text is not YAML.</exception>
    public static RenderedManifest Parse(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        var documents = new List<ManifestDocument>();
        foreach (var document in stream.Documents)
        {
            if (ToJson(document.RootNode) is JsonObject root)
            {
                documents.Add(new ManifestDocument(root));
            }
        }

        return new RenderedManifest(text, documents);
    }

    /// <summary>Every document of <paramref name="kind"/>.</summary>
    public IEnumerable<ManifestDocument> OfKind(string kind) => Documents.Where(d => d.Kind == kind);

    /// <summary>The one document of <paramref name="kind"/> named <paramref name="name"/>.</summary>
    /// <exception cref="InvalidOperationException">None, or several; the message lists what was rendered.</exception>
    public ManifestDocument Get(string kind, string name)
    {
        var found = Documents.Where(d => d.Kind == kind && d.Name == name).ToList();
        return found.Count == 1
            ? found[0]
            : throw new InvalidOperationException(
                $"Expected one {kind} named '{name}', found {found.Count}. Rendered: {string.Join(", ", Documents.Select(d => $"{d.Kind}/{d.Name}"))}");
    }

    /// <summary>The document of <paramref name="kind"/> named <paramref name="name"/>, or null.</summary>
    public ManifestDocument? Find(string kind, string name) => Documents.SingleOrDefault(d => d.Kind == kind && d.Name == name);

    // YAML to JSON by the YAML 1.2 core schema, as Kubernetes reads manifests: an unquoted 5000 is a number and an
    // unquoted true a boolean, a quoted "5000" stays a string. YamlDotNet's object deserializer would give strings
    // for all three, which would hide exactly the type mistakes a chart test must see; hence this small converter.
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode mapping => new JsonObject(mapping.Children.Select(c =>
            KeyValuePair.Create(((YamlScalarNode)c.Key).Value ?? string.Empty, ToJson(c.Value)))),
        YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(ToJson)]),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new YamlException($"Unsupported YAML node {node.NodeType} at {node.Start}"),
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? string.Empty;
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
        {
            return JsonValue.Create(value);
        }

        if (value is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (value is "true" or "True" or "TRUE")
        {
            return JsonValue.Create(true);
        }

        if (value is "false" or "False" or "FALSE")
        {
            return JsonValue.Create(false);
        }

        if (IntegerPattern().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (FloatPattern().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(value);
    }

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}

/// <summary>One rendered Kubernetes object, as JSON (the shape the API server stores).</summary>
public sealed class ManifestDocument(JsonObject root)
{
    private static readonly Dictionary<string, string[]> PodSpecPaths = new(StringComparer.Ordinal)
    {
        ["Pod"] = ["spec"],
        ["Deployment"] = ["spec", "template", "spec"],
        ["StatefulSet"] = ["spec", "template", "spec"],
        ["DaemonSet"] = ["spec", "template", "spec"],
        ["ReplicaSet"] = ["spec", "template", "spec"],
        ["Job"] = ["spec", "template", "spec"],
        ["CronJob"] = ["spec", "jobTemplate", "spec", "template", "spec"],
    };

    /// <summary>The whole object.</summary>
    public JsonObject Root { get; } = root;

    /// <summary><c>apiVersion</c>.</summary>
    public string ApiVersion => (string?)Root["apiVersion"] ?? string.Empty;

    /// <summary><c>kind</c>.</summary>
    public string Kind => (string?)Root["kind"] ?? string.Empty;

    /// <summary><c>metadata.name</c>.</summary>
    public string Name => (string?)Root["metadata"]?["name"] ?? string.Empty;

    /// <summary><c>metadata.labels</c> (empty when none).</summary>
    public IReadOnlyDictionary<string, string> Labels => Strings(Root["metadata"]?["labels"]);

    /// <summary><c>metadata.annotations</c> (empty when none).</summary>
    public IReadOnlyDictionary<string, string> Annotations => Strings(Root["metadata"]?["annotations"]);

    /// <summary><c>data</c> of a ConfigMap or <c>stringData</c>/<c>data</c> (decoded) of a Secret (empty when none).</summary>
    public IReadOnlyDictionary<string, string> Data
    {
        get
        {
            if (Kind != "Secret")
            {
                return Strings(Root["data"]);
            }

            var data = Strings(Root["data"]).ToDictionary(
                p => p.Key, p => System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(p.Value)), StringComparer.Ordinal);
            foreach (var (key, value) in Strings(Root["stringData"]))
            {
                data[key] = value;
            }

            return data;
        }
    }

    /// <summary>The pod template's spec for workloads (and a Pod's spec); null for other kinds.</summary>
    public JsonObject? PodSpec =>
        PodSpecPaths.TryGetValue(Kind, out var path)
            ? path.Aggregate((JsonNode?)Root, (node, key) => node?[key]) as JsonObject
            : null;

    /// <summary>The object at a path of keys and array indexes, e.g. <c>At("spec", "ports", 0, "port")</c>; null when absent.</summary>
    public JsonNode? At(params object[] path) =>
        path.Aggregate((JsonNode?)Root, (node, key) => key switch
        {
            string name => node is JsonObject o ? o[name] : null,
            int index => node is JsonArray a && index < a.Count ? a[index] : null,
            _ => throw new ArgumentException($"Path elements are strings or ints, not {key.GetType()}", nameof(path)),
        });

    /// <inheritdoc />
    public override string ToString() => $"{Kind}/{Name}";

    private static Dictionary<string, string> Strings(JsonNode? node) =>
        node is JsonObject o
            ? o.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? string.Empty, StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);
}

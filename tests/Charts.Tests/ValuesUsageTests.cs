using System.Globalization;
using System.Text.RegularExpressions;
using WebhookConnect.Charts.Tests.Support;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace WebhookConnect.Charts.Tests;

/// <summary>
/// Every value of charts/webhook-connect/values.yaml changes what the chart renders, in at least one good profile: a
/// value users can set but the chart never reads would be a setting that silently does nothing.
/// </summary>
public sealed partial class ValuesUsageTests : IDisposable
{
    private const string ChartName = "webhook-connect";

    // Profiles that switch on the optional parts (emptyDir spool, external Redis, exposures, monitoring, channels).
    private static readonly string[] ProfileOrder =
        ["default.yaml", "exposure-ingress-nginx.yaml", "exposure-gateway.yaml", "ha-external-redis.yaml", "dev.yaml", "channels.yaml"];

    // Values no single change can show, each with the reason; everything else must change the rendering.
    private static readonly Dictionary<string, string> Exempt = new(StringComparer.Ordinal)
    {
        ["redis.enabled"] = "exclusive with externalRedis.host: flipping it alone is refused by the schema either way (bad profiles both-redis and no-redis show that)",
        ["auth.adminTokens.generate"] = "decides only whether an empty existingSecret is an error (bad profile no-admin-token-source shows that)",
    };

    private static readonly (string Prefix, string Profile)[] PreferredProfile =
    [
        ("exposure.webhooks.httpRoute", "exposure-gateway.yaml"), ("exposure.connectors.grpcRoute", "exposure-gateway.yaml"),
        ("exposure.connectors.httpRoute", "exposure-gateway.yaml"),
        ("exposure.", "exposure-ingress-nginx.yaml"), ("metrics.", "exposure-ingress-nginx.yaml"),
        ("externalRedis.", "ha-external-redis.yaml"), ("admin.autoscaling", "ha-external-redis.yaml"),
        ("ingress.autoscaling", "ha-external-redis.yaml"), ("queueManager.autoscaling", "ha-external-redis.yaml"),
        ("ingress.spool.emptyDir", "dev.yaml"), ("auth.contentsTokens", "channels.yaml"),
    ];

    private readonly Helm _helm = new();

    public void Dispose() => _helm.Dispose();

    [Fact]
    public async Task EveryScalarValueChangesTheRenderedManifestInSomeProfile()
    {
        var chart = Helm.Chart(ChartName);
        var bases = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var profile in ProfileOrder)
        {
            bases[profile] = Normalise(await _helm.TemplateAsync(chart, "wc", [Profiles.GoodPath(ChartName, profile)]));
        }

        var unused = new List<string>();
        foreach (var leaf in Leaves(Path.Combine(chart, "values.yaml")).Where(l => !Exempt.ContainsKey(l.Path)))
        {
            if (!await ChangesSomethingAsync(chart, bases, leaf))
            {
                unused.Add($"{leaf.Path} (default '{leaf.Value}')");
            }
        }

        Assert.True(unused.Count == 0, "values that change nothing in any profile:" + Environment.NewLine + string.Join(Environment.NewLine, unused));
    }

    private async Task<bool> ChangesSomethingAsync(string chart, Dictionary<string, string> bases, Leaf leaf)
    {
        var mutations = Mutations(leaf).ToList();
        foreach (var profile in ProfilesFor(leaf.Path))
        {
            foreach (var mutation in mutations)
            {
                var set = new Dictionary<string, string> { [leaf.Path] = mutation };
                var result = leaf.IsString
                    ? await _helm.TryTemplateAsync(chart, "wc", [Profiles.GoodPath(ChartName, profile)], setStringValues: set)
                    : await _helm.TryTemplateAsync(chart, "wc", [Profiles.GoodPath(ChartName, profile)], setValues: set);
                if (result.Succeeded && Normalise(result.StandardOutput) != bases[profile])
                {
                    return true;
                }
            }
        }

        return false;
    }

    // The profile that switches a value's part on goes first, so a value is usually settled by its first render.
    private static IEnumerable<string> ProfilesFor(string path)
    {
        var first = PreferredProfile.FirstOrDefault(p => path.StartsWith(p.Prefix, StringComparison.Ordinal)).Profile;
        return first is null ? ProfileOrder : ProfileOrder.Where(p => p != first).Prepend(first);
    }

    // Two different values each (a profile may already set one of them), of the type and shape the schema expects.
    private static IEnumerable<string> Mutations(Leaf leaf)
    {
        var value = leaf.Value;
        if (!leaf.IsString && value is "true" or "false")
        {
            return ["true", "false"];
        }

        if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
        {
            return [(number + 1).ToString(CultureInfo.InvariantCulture), (number + 2).ToString(CultureInfo.InvariantCulture)];
        }

        if (RedisMemory().IsMatch(value))
        {
            return ["512mb", "2gb"];
        }

        if (Quantity().IsMatch(value))
        {
            return ["3Gi", "250m"];
        }

        if (Duration().IsMatch(value))
        {
            return ["17s", "19s"];
        }

        if (value.Length > 0 && char.IsUpper(value[0]))
        {
            return ["Always", "LoadBalancer", "Delete", "ReadWriteOncePod", "Never"];
        }

        return ["mutated", "http://mutated:4317", "/mutated", "emptyDir", "mutated-" + value];
    }

    // Generated Secrets are random on every render: their data is blanked before comparing.
    private static string Normalise(string rendered)
    {
        var manifest = RenderedManifest.Parse(rendered);
        foreach (var secret in manifest.OfKind("Secret"))
        {
            secret.Root.Remove("data");
        }

        return string.Join("\n---\n", manifest.Documents.Select(d => d.Root.ToJsonString()));
    }

    private static List<Leaf> Leaves(string valuesFile)
    {
        var stream = new YamlStream();
        using (var reader = File.OpenText(valuesFile))
        {
            stream.Load(reader);
        }

        var leaves = new List<Leaf>();
        Walk((YamlMappingNode)stream.Documents[0].RootNode, "", leaves);
        return leaves;

        static void Walk(YamlMappingNode mapping, string prefix, List<Leaf> leaves)
        {
            foreach (var (key, node) in mapping.Children)
            {
                var path = prefix + ((YamlScalarNode)key).Value;
                if (node is YamlMappingNode child)
                {
                    Walk(child, path + ".", leaves);
                }
                else if (node is YamlScalarNode scalar)
                {
                    // Lists are set as a whole; their use shows in the profiles and tests that fill them.
                    var quoted = scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted;
                    var value = scalar.Value ?? string.Empty;
                    var isString = quoted || !(value is "true" or "false" || long.TryParse(value, CultureInfo.InvariantCulture, out _));
                    leaves.Add(new Leaf(path, value, isString));
                }
            }
        }
    }

    // Redis' own memory units (maxmemory: 640mb, 2gb).
    [GeneratedRegex("^[0-9]+[kmg]b$")]
    private static partial Regex RedisMemory();

    [GeneratedRegex("^[0-9]+(m|Mi|Gi|Ti)$")]
    private static partial Regex Quantity();

    [GeneratedRegex("^[0-9]+(ms|s|m|h)$")]
    private static partial Regex Duration();

    private sealed record Leaf(string Path, string Value, bool IsString);
}

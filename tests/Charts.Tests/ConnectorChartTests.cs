using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using WebhookConnect.Charts.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace WebhookConnect.Charts.Tests;

/// <summary>
/// The standalone connector chart (<c>charts/webhook-connect-connector</c>) with every values profile under
/// <c>tests/charts/profiles/webhook-connect-connector/</c> and every refused one under <c>bad-profiles/</c>.
/// </summary>
public sealed partial class ConnectorChartTests
{
    private const string Release = "wc";

    public static TheoryData<string> GoodProfiles => Profiles.Good(ConnectorCharts.Name);

    public static TheoryData<string> BadProfiles => Profiles.Bad(ConnectorCharts.Name);

    [Theory]
    [MemberData(nameof(GoodProfiles))]
    public async Task EveryConnectorProfilePassesHelmLintStrict(string profile)
    {
        using var helm = new Helm();

        var result = await helm.LintAsync(ConnectorCharts.Chart, [Profiles.GoodPath(ConnectorCharts.Name, profile)]);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("0 chart(s) failed", result.StandardOutput, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(GoodProfiles))]
    public async Task EveryConnectorProfileRendersManifestsThatKubernetes130Accepts(string profile)
    {
        using var helm = new Helm();
        var manifest = await helm.TemplateAsync(ConnectorCharts.Chart, Release, [Profiles.GoodPath(ConnectorCharts.Name, profile)]);

        var (valid, report) = await KubernetesSchema.ValidateAsync(manifest);

        Assert.True(valid, report);
        Assert.Contains($"ok apps/v1 Deployment/{Release}-webhook-connect-connector", report, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(GoodProfiles))]
    public async Task EveryConnectorPodIsRestrictedWithResourcesNamedPortProbesAPinnedImageAndNoSecretLiteral(string profile)
    {
        using var helm = new Helm();
        var manifest = RenderedManifest.Parse(
            await helm.TemplateAsync(ConnectorCharts.Chart, Release, [Profiles.GoodPath(ConnectorCharts.Name, profile)]));

        Assert.Single(manifest.PodSpecs);
        var violations = PodPolicy.Violations(manifest);
        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    [Theory]
    [MemberData(nameof(BadProfiles))]
    public async Task EveryBadConnectorProfileIsRefusedWithItsMessage(string profile)
    {
        using var helm = new Helm();
        var path = Profiles.BadPath(ConnectorCharts.Name, profile);

        var result = await helm.TryTemplateAsync(ConnectorCharts.Chart, Release, [path]);

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains(Profiles.ExpectedMessage(path), result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDefaultImageTagIsTheChartsAppVersion()
    {
        var chart = LoadYaml(Path.Combine(ConnectorCharts.Chart, "Chart.yaml"));
        var values = LoadYaml(Path.Combine(ConnectorCharts.Chart, "values.yaml"));

        var appVersion = ((YamlScalarNode)chart.Children["appVersion"]).Value;
        var tag = ((YamlScalarNode)((YamlMappingNode)values.Children["image"]).Children["tag"]).Value;

        Assert.False(string.IsNullOrEmpty(appVersion));
        Assert.Equal(appVersion, tag);
    }

    [Fact]
    public void TheConnectorChartRunsTheSameProductVersionAsTheCloudChart()
    {
        var connector = LoadYaml(Path.Combine(ConnectorCharts.Chart, "Chart.yaml"));
        var cloud = LoadYaml(Path.Combine(Helm.Chart("webhook-connect"), "Chart.yaml"));

        Assert.Equal(((YamlScalarNode)cloud.Children["appVersion"]).Value, ((YamlScalarNode)connector.Children["appVersion"]).Value);
    }

    [Fact]
    public void EveryValueIsDocumentedByAComment()
    {
        var keys = ValuesKeys(File.ReadAllLines(Path.Combine(ConnectorCharts.Chart, "values.yaml")));

        Assert.NotEmpty(keys);
        Assert.Empty(keys.Where(k => !k.Documented()).Select(k => k.Path));
    }

    [Fact]
    public async Task TheRenderedConfigGivesEachChannelItsMountedTokenFileAndItsTargets()
    {
        using var helm = new Helm();
        var manifest = RenderedManifest.Parse(
            await helm.TemplateAsync(ConnectorCharts.Chart, Release, [Profiles.GoodPath(ConnectorCharts.Name, "standalone.yaml")]));

        var config = ConnectorConfig(manifest.Get("ConfigMap", $"{Release}-webhook-connect-connector"));
        Assert.Equal(
            "dns:///wc-webhook-connect-queue-manager-headless.webhook-connect.svc.cluster.local:5001",
            (string?)config["queue_manager"]!["address"]);
        Assert.True((bool)config["queue_manager"]!["insecure"]!);
        Assert.Equal("auto", (string?)config["queue_manager"]!["protocol"]);
        Assert.Null(config["queue_manager"]!["http_address"]);
        Assert.Equal("0.0.0.0", (string?)config["management"]!["host"]);
        Assert.Equal(9093, (long)config["management"]!["port"]!);
        var orders = config["subscriptions"]![0]!;
        var billing = config["subscriptions"]![1]!;
        Assert.Equal("orders", (string?)orders["channel"]);
        Assert.Equal("/var/run/secrets/webhook-connect-connector/orders", (string?)orders["token_file"]);
        Assert.Equal(50, (long)orders["max_in_flight"]!);
        Assert.Equal("http://orders-processor.shop.svc.cluster.local:8080/webhooks", (string?)orders["default_target"]!["url"]);
        Assert.Equal("http://orders-processor.shop.svc.cluster.local:8080/github", (string?)orders["targets"]!["github"]!["url"]);
        Assert.Equal("00:00:10", (string?)orders["targets"]!["github"]!["timeout"]);
        Assert.Equal("billing", (string?)billing["channel"]);
        Assert.Equal("/var/run/secrets/webhook-connect-connector/billing-token", (string?)billing["token_file"]);
        Assert.Equal("http://orders-processor.shop.svc.cluster.local:8080/billing", (string?)billing["default_target"]!["url"]);
        Assert.Null(billing["max_in_flight"]);

        // The files the config names are the files the pod mounts: the token Secret's items under the token mount,
        // the config under the path the args name.
        var pod = manifest.Get("Deployment", $"{Release}-webhook-connect-connector").PodSpec!;
        var container = pod["containers"]![0]!;
        Assert.Equal(["--config", "/etc/webhook-connect-connector/connector.yaml"], Strings(container["args"]));
        Assert.Null(container["command"]);
        var tokenVolume = Volume(pod, "connector-token");
        Assert.Equal("connector-tokens", (string?)tokenVolume["secret"]!["secretName"]);
        Assert.Equal(["orders", "billing-token"], Strings(tokenVolume["secret"]!["items"]!.AsArray().Select(i => i!["path"])));
        Assert.Equal("/var/run/secrets/webhook-connect-connector", MountPath(container, "connector-token"));
        Assert.Equal("/etc/webhook-connect-connector", MountPath(container, "connector-config"));
        Assert.Equal($"{Release}-webhook-connect-connector", (string?)Volume(pod, "connector-config")["configMap"]!["name"]);
    }

    [Fact]
    public async Task TheProtocolAndTheHttp1AddressReachTheRenderedConfig()
    {
        using var helm = new Helm();
        var manifest = RenderedManifest.Parse(await helm.TemplateAsync(ConnectorCharts.Chart, Release,
            [Profiles.GoodPath(ConnectorCharts.Name, "standalone.yaml")],
            new Dictionary<string, string> { ["queueManager.protocol"] = "websocket", ["queueManager.httpAddress"] = "http://qm-http.example:5003" }));

        var config = ConnectorConfig(manifest.Get("ConfigMap", $"{Release}-webhook-connect-connector"));
        Assert.Equal("websocket", (string?)config["queue_manager"]!["protocol"]);
        Assert.Equal("http://qm-http.example:5003", (string?)config["queue_manager"]!["http_address"]);
    }

    [Fact]
    public async Task AGeneratedTokenSecretHoldsARandomTokenPerChannelAndOutlivesTheRelease()
    {
        using var helm = new Helm();
        var profile = Profiles.GoodPath(ConnectorCharts.Name, "tls-generated-token-ha.yaml");

        var first = RenderedManifest.Parse(await helm.TemplateAsync(ConnectorCharts.Chart, Release, [profile]));
        var second = RenderedManifest.Parse(await helm.TemplateAsync(ConnectorCharts.Chart, Release, [profile]));

        var secret = first.Get("Secret", $"{Release}-webhook-connect-connector-token");
        Assert.Equal(["orders", "returns.eu"], secret.Data.Keys.Order(StringComparer.Ordinal));
        Assert.All(secret.Data.Values, token => Assert.Matches("^[A-Za-z0-9]{48}$", token));
        Assert.NotEqual(secret.Data["orders"], secret.Data["returns.eu"]);
        Assert.NotEqual(secret.Data["orders"], second.Get("Secret", $"{Release}-webhook-connect-connector-token").Data["orders"]);
        Assert.Equal("keep", secret.Annotations["helm.sh/resource-policy"]);
        var pod = first.Get("Deployment", $"{Release}-webhook-connect-connector").PodSpec!;
        Assert.Equal($"{Release}-webhook-connect-connector-token", (string?)Volume(pod, "connector-token")["secret"]!["secretName"]);

        // The CA of the TLS profile is mounted where the config says.
        var config = ConnectorConfig(first.Get("ConfigMap", $"{Release}-webhook-connect-connector"));
        Assert.Equal("/etc/webhook-connect-connector-ca/ca.crt", (string?)config["queue_manager"]!["ca_file"]);
        Assert.False((bool)config["queue_manager"]!["insecure"]!);
        Assert.Equal("/etc/webhook-connect-connector-ca", MountPath(pod["containers"]![0]!, "connector-ca"));
        Assert.Equal("webhook-connect-ca", (string?)Volume(pod, "connector-ca")["secret"]!["secretName"]);
        Assert.Equal(3, (long)config["retry"]!["attempts"]!);
    }

    [Fact]
    public async Task AChangedConnectorConfigChangesThePodTemplateSoThePodsRoll()
    {
        using var helm = new Helm();
        var profile = Profiles.GoodPath(ConnectorCharts.Name, "standalone.yaml");

        var before = RenderedManifest.Parse(await helm.TemplateAsync(ConnectorCharts.Chart, Release, [profile]));
        var after = RenderedManifest.Parse(await helm.TemplateAsync(
            ConnectorCharts.Chart, Release, [profile], new Dictionary<string, string> { ["target.timeout"] = "00:00:05" }));

        string Checksum(RenderedManifest m) =>
            (string)m.Get("Deployment", $"{Release}-webhook-connect-connector").At("spec", "template", "metadata", "annotations", "checksum/connector")!;
        Assert.Matches("^[0-9a-f]{64}$", Checksum(before));
        Assert.NotEqual(Checksum(before), Checksum(after));
    }

    [Fact]
    public async Task TheNotesSayHowToSeeTheStreamsAndTheGeneratedToken()
    {
        using var helm = new Helm();

        var notes = await helm.NotesAsync(ConnectorCharts.Chart, Release, [Profiles.GoodPath(ConnectorCharts.Name, "tls-generated-token-ha.yaml")]);

        Assert.Contains("It dials connect.example.com:443 and subscribes to: orders, returns.eu.", notes, StringComparison.Ordinal);
        Assert.Contains($"kubectl -n {Helm.Namespace} port-forward deployment/{Release}-webhook-connect-connector 9093:9093", notes, StringComparison.Ordinal);
        Assert.Contains("curl -s http://127.0.0.1:9093/readyz", notes, StringComparison.Ordinal);
        Assert.Contains(
            $"kubectl -n {Helm.Namespace} get secret {Release}-webhook-connect-connector-token -o jsonpath='{{.data.orders}}' | base64 -d",
            notes,
            StringComparison.Ordinal);
    }

    internal static JsonObject ConnectorConfig(ManifestDocument configMap) =>
        RenderedManifest.Parse(configMap.Data["connector.yaml"]).Documents.Single().Root;

    internal static JsonObject Volume(JsonObject pod, string name) =>
        pod["volumes"]!.AsArray().OfType<JsonObject>().Single(v => (string?)v["name"] == name);

    internal static string? MountPath(JsonNode container, string volume) =>
        (string?)container["volumeMounts"]!.AsArray().Single(m => (string?)m!["name"] == volume)!["mountPath"];

    private static string[] Strings(JsonNode? array) => [.. array!.AsArray().Select(n => (string?)n ?? string.Empty)];

    private static string[] Strings(IEnumerable<JsonNode?> nodes) => [.. nodes.Select(n => (string?)n ?? string.Empty)];

    private static YamlMappingNode LoadYaml(string path)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    /// <summary>
    /// The keys of a values.yaml with their comments: a key is documented when a comment sits right above it, when a
    /// block it belongs to is documented, or when it is a block whose every key is documented (as "image:").
    /// </summary>
    private static List<ValuesKey> ValuesKeys(string[] lines)
    {
        var keys = new List<ValuesKey>();
        var open = new Stack<ValuesKey>();
        var commented = false;
        foreach (var line in lines)
        {
            var trimmed = line.TrimStart();
            if (trimmed.StartsWith('#'))
            {
                commented = true;
                continue;
            }

            var match = KeyLine().Match(line);
            if (!match.Success)
            {
                commented = false;
                continue;
            }

            var indent = match.Groups[1].Value.Length;
            while (open.Count > 0 && open.Peek().Indent >= indent)
            {
                open.Pop();
            }

            var parent = open.Count > 0 ? open.Peek() : null;
            var key = new ValuesKey(
                parent is null ? match.Groups[2].Value : $"{parent.Path}.{match.Groups[2].Value}", indent, commented, parent);
            parent?.Children.Add(key);
            keys.Add(key);
            open.Push(key);
            commented = false;
        }

        return keys;
    }

    private sealed record ValuesKey(string Path, int Indent, bool Commented, ValuesKey? Parent)
    {
        public List<ValuesKey> Children { get; } = [];

        public bool Documented() => Commented || AncestorCommented() || (Children.Count > 0 && Children.All(c => c.Commented || c.Documented()));

        private bool AncestorCommented() => Parent is not null && (Parent.Commented || Parent.AncestorCommented());
    }

    [GeneratedRegex("^( *)([A-Za-z][A-Za-z0-9_.-]*):")]
    private static partial Regex KeyLine();
}

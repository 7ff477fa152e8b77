using System.Text.Json.Nodes;
using WebhookConnect.Charts.Tests.Support;

namespace WebhookConnect.Charts.Tests;

/// <summary>
/// The connector as a sidecar: <c>tests/charts/connector-sidecar-example</c> is a user's chart that depends on the
/// connector chart (<c>file://</c>) and includes its named templates exactly as the chart's README shows, rendered
/// in both forms: native (an init container with <c>restartPolicy: Always</c>) and the plain-container fallback.
/// </summary>
public sealed class ConnectorSidecarTests : IAsyncLifetime
{
    private const string Release = "shop";

    private readonly Helm _helm = new();
    private TemporaryChart? _chart;

    public static TheoryData<bool> Forms => [true, false];

    private string Chart => _chart!.Path;

    public async ValueTask InitializeAsync() => _chart = await ConnectorCharts.BuildSidecarExampleAsync(_helm);

    public ValueTask DisposeAsync()
    {
        _chart?.Dispose();
        _helm.Dispose();
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task TheNativeSidecarIsAnInitContainerThatRestartsAlwaysBesideTheProcessor()
    {
        var pod = await PodAsync(native: true);

        var init = Assert.Single(pod["initContainers"]!.AsArray());
        Assert.Equal("connector", (string?)init!["name"]);
        Assert.Equal("Always", (string?)init["restartPolicy"]);
        Assert.Equal(["processor"], Names(pod["containers"]));
    }

    [Fact]
    public async Task TheFallbackSidecarIsAPlainSecondContainerWithoutInitContainers()
    {
        var pod = await PodAsync(native: false);

        Assert.Null(pod["initContainers"]);
        Assert.Equal(["processor", "connector"], Names(pod["containers"]));
        Assert.Null(pod["containers"]![1]!["restartPolicy"]);
    }

    [Fact]
    public async Task TheSidecarPostsToTheProcessorOnLoopbackWithTheTokenAndConfigItMounts()
    {
        var manifest = await RenderAsync(native: true);
        var pod = manifest.Get("Deployment", "shop-orders-processor").PodSpec!;
        var connector = pod["initContainers"]![0]!;

        var config = ConnectorChartTests.ConnectorConfig(manifest.Get("ConfigMap", "shop-orders-processor-connector"));
        var subscription = Assert.Single(config["subscriptions"]!.AsArray())!;
        Assert.Equal("http://127.0.0.1:3000/webhooks/orders", (string?)subscription["default_target"]!["url"]);
        Assert.Equal("/var/run/secrets/webhook-connect-connector/orders", (string?)subscription["token_file"]);
        Assert.Equal(
            "dns:///wc-webhook-connect-queue-manager-headless.webhook-connect.svc.cluster.local:5001",
            (string?)config["queue_manager"]!["address"]);
        Assert.Equal(["--config", "/etc/webhook-connect-connector/connector.yaml"], connector["args"]!.AsArray().Select(a => (string?)a));
        Assert.Equal("/etc/webhook-connect-connector", ConnectorChartTests.MountPath(connector, "connector-config"));
        Assert.Equal("/var/run/secrets/webhook-connect-connector", ConnectorChartTests.MountPath(connector, "connector-token"));
        Assert.Equal("shop-orders-processor-connector", (string?)ConnectorChartTests.Volume(pod, "connector-config")["configMap"]!["name"]);
        var token = ConnectorChartTests.Volume(pod, "connector-token")["secret"]!;
        Assert.Equal("orders-connector-token", (string?)token["secretName"]);
        Assert.Equal("orders", (string?)Assert.Single(token["items"]!.AsArray())!["path"]);
        Assert.Equal(
            "webhook-connect/connector:1.0.0",
            (string?)connector["image"]);
    }

    [Fact]
    public async Task TheSidecarContainerIsTheStandaloneDeploymentsContainerForTheSameValues()
    {
        var sidecarPod = await PodAsync(native: false);
        var values = Path.Combine(_chart!.Folder, "connector-values.yaml");
        await File.WriteAllTextAsync(values, ConnectorValuesOfTheExample());
        var standalone = RenderedManifest.Parse(await _helm.TemplateAsync(ConnectorCharts.Chart, "wc", [values]));
        var standalonePod = standalone.Get("Deployment", "wc-webhook-connect-connector").PodSpec!;

        var sidecar = sidecarPod["containers"]!.AsArray().Single(c => (string?)c!["name"] == "connector")!;
        var alone = Assert.Single(standalonePod["containers"]!.AsArray())!;
        Assert.True(JsonNode.DeepEquals(sidecar, alone), $"sidecar:{Environment.NewLine}{sidecar.ToJsonString()}{Environment.NewLine}standalone:{Environment.NewLine}{alone.ToJsonString()}");
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task TheUsersChartPassesHelmLintStrictInBothForms(bool native)
    {
        var result = await _helm.LintAsync(Chart, [await NativeValuesAsync(native)]);

        Assert.True(result.Succeeded, result.ToString());
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task TheUsersChartRendersManifestsThatKubernetes130AcceptsInBothForms(bool native)
    {
        var manifest = await RenderAsync(native);

        var (valid, report) = await KubernetesSchema.ValidateAsync(manifest.Text);

        Assert.True(valid, report);
        Assert.Contains("ok apps/v1 Deployment/shop-orders-processor", report, StringComparison.Ordinal);
        Assert.Contains("ok v1 ConfigMap/shop-orders-processor-connector", report, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task TheUsersPodFollowsThePolicyInBothForms(bool native)
    {
        var manifest = await RenderAsync(native);

        var violations = PodPolicy.Violations(manifest);
        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    [Fact]
    public async Task TheSidecarDoesNotRenderAStandaloneDeploymentInTheUsersRelease()
    {
        var manifest = await RenderAsync(native: true);

        Assert.Equal(["ConfigMap/shop-orders-processor-connector", "Deployment/shop-orders-processor"], manifest.Documents.Select(d => d.ToString()));
    }

    [Fact]
    public async Task AGeneratedTokenSecretInTheUsersChartIsTheOneTheSidecarMounts()
    {
        var values = Path.Combine(_chart!.Folder, "generated-token.yaml");
        await File.WriteAllTextAsync(values, "webhook-connect-connector:\n  token:\n    existingSecret: \"\"\n    create: true\n");

        var manifest = RenderedManifest.Parse(await _helm.TemplateAsync(Chart, Release, [values]));

        var secret = manifest.Get("Secret", "shop-orders-processor-connector-token");
        Assert.Equal(["orders"], secret.Data.Keys);
        Assert.Matches("^[A-Za-z0-9]{48}$", secret.Data["orders"]);
        Assert.Equal(Helm.Namespace, (string?)secret.At("metadata", "namespace"));
        var pod = manifest.Get("Deployment", "shop-orders-processor").PodSpec!;
        Assert.Equal("shop-orders-processor-connector-token", (string?)ConnectorChartTests.Volume(pod, "connector-token")["secret"]!["secretName"]);
    }

    [Fact]
    public async Task ASidecarIncludedWithoutItsNameParameterIsRefusedNamingTheParameter()
    {
        // A copy of the built example whose helper forgets "name": the render must stop and say which parameter.
        var broken = Path.Combine(_chart!.Folder, "without-name");
        CopyTree(Chart, broken);
        var helpers = Path.Combine(broken, "templates", "_helpers.tpl");
        var text = await File.ReadAllTextAsync(helpers);
        var withoutName = text.Replace(
            "\"name\" (printf \"%s-connector\" (include \"orders-processor.fullname\" .)) ", string.Empty, StringComparison.Ordinal);
        Assert.NotEqual(text, withoutName);
        await File.WriteAllTextAsync(helpers, withoutName);

        var result = await _helm.TryTemplateAsync(broken, Release);

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains("webhook-connect-connector templates: parameter \"name\" is missing", result.StandardError, StringComparison.Ordinal);
    }

    private async Task<JsonObject> PodAsync(bool native) =>
        (await RenderAsync(native)).Get("Deployment", "shop-orders-processor").PodSpec!;

    private async Task<RenderedManifest> RenderAsync(bool native) =>
        RenderedManifest.Parse(await _helm.TemplateAsync(Chart, Release, [await NativeValuesAsync(native)]));

    // A values file rather than --set-string: native must reach the template as a boolean.
    private async Task<string> NativeValuesAsync(bool native)
    {
        var path = Path.Combine(_chart!.Folder, $"native-{native}.yaml".ToLowerInvariant());
        await File.WriteAllTextAsync(path, $"webhook-connect-connector:\n  sidecar:\n    native: {(native ? "true" : "false")}\n");
        return path;
    }

    // The example chart's "webhook-connect-connector:" block, as the connector chart's own values (the standalone
    // Deployment turned on again).
    private static string ConnectorValuesOfTheExample()
    {
        var lines = File.ReadAllLines(Path.Combine(ConnectorCharts.SidecarExample, "values.yaml"));
        var block = lines.SkipWhile(l => !l.StartsWith("webhook-connect-connector:", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(l => l.Length == 0 || l.StartsWith(' ') || l.StartsWith('#'))
            .Select(l => l.Length >= 2 ? l[2..] : l);
        return string.Join('\n', block).Replace("enabled: false", "enabled: true", StringComparison.Ordinal) + "\n";
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static string[] Names(JsonNode? containers) => [.. containers!.AsArray().Select(c => (string?)c!["name"] ?? string.Empty)];
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using WebhookConnect.Charts.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace WebhookConnect.Charts.Tests;

/// <summary>
/// <c>skaffold.yaml</c> at the repository root, checked without skaffold (not obtainable here): against skaffold's
/// own JSON schema for <c>skaffold/v4beta14</c> (kept in <c>tests/charts/schemas/</c>, validated with JsonSchema.Net),
/// and against the repository: the Dockerfiles it builds exist, and every value it sets exists in the chart it sets it on.
/// </summary>
public sealed class SkaffoldTests
{
    private static readonly string SkaffoldFile = Path.Combine(RepoPaths.Root, "skaffold.yaml");

    private static readonly string SchemaFile = Path.Combine(RepoPaths.ChartTests, "schemas", "skaffold-v4beta14.json");

    [Fact]
    public void SkaffoldYamlIsValidForSkaffoldV4beta14()
    {
        var skaffold = Load();

        var results = Evaluate(skaffold);

        Assert.Equal("skaffold/v4beta14", (string?)skaffold["apiVersion"]);
        Assert.True(results.IsValid, Errors(results));
    }

    [Fact]
    public void TheSchemaRefusesAFieldSkaffoldV4beta14DoesNotHave()
    {
        var skaffold = Load();
        // artifactOverrides was removed in skaffold v2 (setValueTemplates replaced it): a config still using it is wrong.
        skaffold["deploy"]!["helm"]!["releases"]![0]!.AsObject()["artifactOverrides"] = new JsonObject { ["image"] = "x" };

        var results = Evaluate(skaffold);

        Assert.False(results.IsValid);
    }

    [Fact]
    public void SkaffoldBuildsTheFourServiceImagesFromTheirDockerfilesWithTheRepositoryAsContext()
    {
        var artifacts = Load()["build"]!["artifacts"]!.AsArray();

        Assert.Equal(
            ["webhook-connect/ingress", "webhook-connect/queue-manager", "webhook-connect/admin", "webhook-connect/connector"],
            artifacts.Select(a => (string?)a!["image"]));
        Assert.All(artifacts, a => Assert.Equal(".", (string?)a!["context"]));
        Assert.Equal(
            ["services/Ingress/Dockerfile", "services/QueueManager/Dockerfile", "services/Admin/Dockerfile", "services/Connector/Dockerfile"],
            artifacts.Select(a => (string?)a!["docker"]!["dockerfile"]));
        Assert.All(artifacts, a => Assert.True(File.Exists(Path.Combine(RepoPaths.Root, (string)a!["docker"]!["dockerfile"]!))));
    }

    [Fact]
    public void EveryBuiltImageIsSetOnAReleaseThroughSetValueTemplates()
    {
        var skaffold = Load();
        var templates = skaffold["deploy"]!["helm"]!["releases"]!.AsArray()
            .SelectMany(r => r!["setValueTemplates"]!.AsObject().Select(p => (string?)p.Value))
            .ToList();

        foreach (var image in skaffold["build"]!["artifacts"]!.AsArray().Select(a => (string)a!["image"]!))
        {
            var key = image.Replace('/', '_').Replace('-', '_');
            Assert.Contains($"{{{{.IMAGE_REPO_{key}}}}}", templates);
            Assert.Contains($"{{{{.IMAGE_TAG_{key}}}}}@{{{{.IMAGE_DIGEST_{key}}}}}", templates);
        }
    }

    [Fact]
    public void EveryValueSkaffoldSetsExistsInTheChartItDeploys()
    {
        var skaffold = Load();
        var releases = skaffold["deploy"]!["helm"]!["releases"]!.AsArray();
        var missing = new List<string>();
        for (var i = 0; i < releases.Count; i++)
        {
            var release = releases[i]!;
            var chart = Path.Combine(RepoPaths.Root, (string)release["chartPath"]!);
            var values = LoadValues(chart);
            var keys = Keys(release["setValueTemplates"]).Concat(Keys(release["setValues"]))
                .Concat(OverrideKeys(release["overrides"], string.Empty))
                .Concat(ProfileKeys(skaffold, i));
            missing.AddRange(keys.Where(k => !Exists(values, k)).Select(k => $"{release["name"]}: {k}"));
        }

        Assert.Empty(missing);
    }

    [Fact]
    public void IngressAndAdminArePortForwardedToTheirServicePorts()
    {
        var forwards = Load()["portForward"]!.AsArray()
            .Select(f => $"{f!["resourceType"]}/{f["resourceName"]}:{f["port"]}->{f["localPort"]}");

        Assert.Equal(
            ["service/webhook-connect-ingress:8080->8080", "service/webhook-connect-admin:5002->5002", "service/webhook-connect-admin:8082->8082"],
            forwards);
    }

    [Fact]
    public void TheDevAndHaProfilesExist()
    {
        var profiles = Load()["profiles"]!.AsArray().Select(p => (string?)p!["name"]);

        Assert.Equal(["dev", "ha"], profiles);
    }

    [Theory]
    [InlineData("")]
    [InlineData("dev")]
    [InlineData("ha")]
    public async Task EveryReleaseOfEveryProfileRendersWithItsChartAndIsValidForKubernetes130(string profile)
    {
        var config = Load();
        if (profile.Length > 0)
        {
            var patches = config["profiles"]!.AsArray().Single(p => (string?)p!["name"] == profile)!["patches"]!.AsArray();
            config = SkaffoldPatches.Apply(config, patches);
        }

        using var helm = new Helm();
        var folder = Directory.CreateTempSubdirectory("k8s-connector-skaffold-").FullName;
        try
        {
            var rendered = new List<string>();
            foreach (var release in config["deploy"]!["helm"]!["releases"]!.AsArray())
            {
                var values = Path.Combine(folder, $"{release!["name"]}.yaml");
                await File.WriteAllTextAsync(values, SkaffoldValues.For(release).ToJsonString());
                rendered.Add(await helm.TemplateAsync(Path.Combine(RepoPaths.Root, (string)release["chartPath"]!), (string)release["name"]!, [values]));
            }

            var (valid, report) = await KubernetesSchema.ValidateAsync(string.Join("\n---\n", rendered));
            Assert.True(valid, report);
            var images = RenderedManifest.Parse(string.Join("\n---\n", rendered)).PodSpecs
                .SelectMany(p => (p.PodSpec["containers"] as JsonArray ?? []).Concat(p.PodSpec["initContainers"] as JsonArray ?? []))
                .Select(c => (string?)c!["image"]).Where(i => i!.StartsWith(SkaffoldValues.Registry, StringComparison.Ordinal)).Distinct().Order();
            var expected = config["build"]!["artifacts"]!.AsArray()
                .Select(a => $"{SkaffoldValues.Registry}/{a!["image"]}:{SkaffoldValues.Tag}@{SkaffoldValues.Digest}").Order();
            Assert.Equal(expected, images);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static JsonObject Load() =>
        RenderedManifest.Parse(File.ReadAllText(SkaffoldFile)).Documents.Single().Root;

    private static EvaluationResults Evaluate(JsonObject skaffold)
    {
        var schema = JsonSchema.FromText(File.ReadAllText(SchemaFile));
        using var document = JsonDocument.Parse(skaffold.ToJsonString());
        return schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    private static string Errors(EvaluationResults results) =>
        string.Join(
            Environment.NewLine,
            (results.Details ?? []).Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")));

    private static IEnumerable<string> OverrideKeys(JsonNode? node, string prefix) =>
        node is JsonObject o
            ? o.SelectMany(p => OverrideKeys(p.Value, prefix.Length == 0 ? p.Key : $"{prefix}.{p.Key}"))
            : prefix.Length == 0 ? [] : [prefix];

    private static IEnumerable<string> Keys(JsonNode? map) =>
        map is JsonObject o ? o.Select(p => p.Key) : [];

    // The keys a profile's JSON patches add to release <index>'s setValues / setValueTemplates.
    private static IEnumerable<string> ProfileKeys(JsonObject skaffold, int index)
    {
        foreach (var patch in (skaffold["profiles"] as JsonArray ?? []).SelectMany(p => p!["patches"] as JsonArray ?? []))
        {
            var path = (string?)patch!["path"] ?? string.Empty;
            foreach (var field in new[] { "setValues", "setValueTemplates" })
            {
                var prefix = $"/deploy/helm/releases/{index}/{field}";
                if (path == prefix)
                {
                    foreach (var key in Keys(patch["value"]))
                    {
                        yield return key;
                    }
                }
                else if (path.StartsWith(prefix + "/", StringComparison.Ordinal))
                {
                    yield return path[(prefix.Length + 1)..];
                }
            }
        }
    }

    private static YamlMappingNode LoadValues(string chart)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(chart, "values.yaml"))));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    // "a.b[0].c": every map key must exist in values.yaml; an index into a list needs only the list.
    private static bool Exists(YamlMappingNode values, string key)
    {
        YamlNode node = values;
        foreach (var segment in key.Split('.'))
        {
            var name = segment.Split('[')[0];
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(name), out var child))
            {
                return false;
            }

            node = child;
            if (segment.Contains('[', StringComparison.Ordinal))
            {
                if (node is not YamlSequenceNode)
                {
                    return false;
                }

                return true;
            }
        }

        return true;
    }
}

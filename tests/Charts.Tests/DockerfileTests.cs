using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using WebhookConnect.Charts.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace WebhookConnect.Charts.Tests;

/// <summary>
/// The four services' Dockerfiles against what the charts run (no image can be built here, so the Dockerfiles are
/// read as text): the user the charts' runAsUser names, the entrypoint the charts rely on (they set no command), the
/// ports they declare, and a read-only root filesystem with nothing written outside a mounted volume.
/// </summary>
public sealed partial class DockerfileTests
{
    /// <summary>APP_UID of the mcr.microsoft.com/dotnet/aspnet:10.0 images (the non-root "app" user).</summary>
    private const long AppUid = 1654;

    public static TheoryData<string, string> Services => new()
    {
        { "ingress", "Ingress" },
        { "queue-manager", "QueueManager" },
        { "admin", "Admin" },
        { "connector", "Connector" },
    };

    [Theory]
    [MemberData(nameof(Services))]
    public async Task EveryChartContainerOfAServiceRunsItsImageAsTheDockerfileDeclares(string image, string project)
    {
        var dockerfile = FinalStage(project);
        var containers = await RenderedContainersAsync(image);

        Assert.NotEmpty(containers);
        Assert.Equal("mcr.microsoft.com/dotnet/aspnet:10.0", dockerfile.Base);
        Assert.Equal("$APP_UID", dockerfile.User);
        Assert.Equal($"[\"dotnet\", \"WebhookConnect.{project}.dll\"]", dockerfile.Entrypoint);
        Assert.Equal("0", dockerfile.Env.GetValueOrDefault("DOTNET_EnableDiagnostics"));
        foreach (var (owner, container, pod) in containers)
        {
            var where = $"{owner} container {container["name"]}";
            Assert.True(container["command"] is null, $"{where} replaces the image's ENTRYPOINT");
            Assert.True(AppUid == (long?)(container["securityContext"]?["runAsUser"] ?? pod["securityContext"]?["runAsUser"]), $"{where}: runAsUser is not {AppUid}");
            Assert.True((bool?)container["securityContext"]?["readOnlyRootFilesystem"] == true, $"{where}: the root filesystem is writable");
            var ports = (container["ports"] as JsonArray ?? []).Select(p => (long)p!["containerPort"]!).Order();
            Assert.Equal(dockerfile.Exposed.Order(), ports);
        }
    }

    [Fact]
    public async Task TheIngressSpoolIsTheDockerfilesSpoolPathAndAWritableMountedVolume()
    {
        var dockerfile = FinalStage("Ingress");
        var spool = dockerfile.Env["Ingress__SpoolPath"];
        var containers = await RenderedContainersAsync("ingress");

        Assert.Contains($"VOLUME {spool}", dockerfile.Lines);
        foreach (var (owner, container, _) in containers)
        {
            var rendered = (container["env"] as JsonArray ?? []).SingleOrDefault(e => (string?)e!["name"] == "Ingress__SpoolPath");
            Assert.Equal(spool, (string?)rendered?["value"]);
            var mount = (container["volumeMounts"] as JsonArray ?? []).SingleOrDefault(m => (string?)m!["mountPath"] == spool);
            Assert.True(mount is not null, $"{owner}: nothing is mounted at the spool path {spool}");
            Assert.NotEqual(true, (bool?)mount!["readOnly"]);
        }
    }

    [Fact]
    public void TheChartsRunAsUserIsTheImagesAppUid()
    {
        var cloud = LoadYaml(Path.Combine(Helm.Chart("webhook-connect"), "values.yaml"));
        var connector = LoadYaml(Path.Combine(ConnectorCharts.Chart, "values.yaml"));

        Assert.Equal(AppUid.ToString(System.Globalization.CultureInfo.InvariantCulture), ((YamlScalarNode)cloud.Children["runAsUser"]).Value);
        var context = (YamlMappingNode)connector.Children["containerSecurityContext"];
        Assert.Equal("1654", ((YamlScalarNode)context.Children["runAsUser"]).Value);
    }

    private static async Task<List<(ManifestDocument Owner, JsonObject Container, JsonObject Pod)>> RenderedContainersAsync(string image)
    {
        using var helm = new Helm();
        var cloud = await helm.TemplateAsync(Helm.Chart("webhook-connect"), "wc");
        var emptyDirSpool = await helm.TemplateAsync(
            Helm.Chart("webhook-connect"), "wc", setValues: new Dictionary<string, string> { ["ingress.spool.volume"] = "emptyDir" });
        var connector = await helm.TemplateAsync(ConnectorCharts.Chart, "wc", [Profiles.GoodPath(ConnectorCharts.Name, "standalone.yaml")]);
        return [.. new[] { cloud, emptyDirSpool, connector }
            .SelectMany(text => RenderedManifest.Parse(text).PodSpecs)
            .SelectMany(p => (p.PodSpec["containers"] as JsonArray ?? []).Concat(p.PodSpec["initContainers"] as JsonArray ?? [])
                .OfType<JsonObject>().Select(c => (p.Owner, Container: c, Pod: p.PodSpec)))
            .Where(c => ((string?)c.Container["image"] ?? string.Empty).StartsWith($"webhook-connect/{image}:", StringComparison.Ordinal))];
    }

    private static Dockerfile FinalStage(string project)
    {
        var lines = File.ReadAllLines(Path.Combine(RepoPaths.Root, "services", project, "Dockerfile"));
        var final = lines.SkipWhile(l => !l.StartsWith("FROM ", StringComparison.Ordinal) || !l.EndsWith(" AS final", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(final);
        var instructions = Instructions(final);
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in instructions.Where(i => i.Name == "ENV").Select(i => i.Value))
        {
            foreach (Match pair in EnvPair().Matches(value))
            {
                env[pair.Groups[1].Value] = pair.Groups[2].Value;
            }
        }

        return new Dockerfile(
            final[0]["FROM ".Length..^" AS final".Length],
            instructions.Last(i => i.Name == "USER").Value,
            instructions.Last(i => i.Name == "ENTRYPOINT").Value,
            env,
            [.. instructions.Where(i => i.Name == "EXPOSE").SelectMany(i => i.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(long.Parse)],
            [.. instructions.Select(i => $"{i.Name} {i.Value}")]);
    }

    // Instructions with their continuation lines joined; comments dropped.
    private static List<(string Name, string Value)> Instructions(List<string> lines)
    {
        var result = new List<(string, string)>();
        var current = string.Empty;
        foreach (var line in lines.Where(l => !l.TrimStart().StartsWith('#')))
        {
            current += line.TrimEnd().TrimEnd('\\').Trim() + " ";
            if (line.TrimEnd().EndsWith('\\'))
            {
                continue;
            }

            var text = current.Trim();
            current = string.Empty;
            if (text.Length > 0)
            {
                var space = text.IndexOf(' ', StringComparison.Ordinal);
                result.Add((text[..space], text[(space + 1)..].Trim()));
            }
        }

        return result;
    }

    private static YamlMappingNode LoadYaml(string path)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    [GeneratedRegex(@"([A-Za-z_][A-Za-z0-9_]*)=(\S*)")]
    private static partial Regex EnvPair();

    private sealed record Dockerfile(string Base, string User, string Entrypoint, Dictionary<string, string> Env, long[] Exposed, string[] Lines);
}

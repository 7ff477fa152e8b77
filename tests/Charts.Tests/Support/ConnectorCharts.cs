using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace WebhookConnect.Charts.Tests.Support;

/// <summary>
/// The connector chart (<c>charts/webhook-connect-connector</c>) and the user's chart that runs it as a sidecar
/// (<c>tests/charts/connector-sidecar-example</c>, a <c>file://</c> dependency on the connector chart).
/// </summary>
public static class ConnectorCharts
{
    /// <summary>The connector chart's folder name under <c>charts/</c> (and its profiles' folder name).</summary>
    public const string Name = "webhook-connect-connector";

    /// <summary>The full path of the connector chart.</summary>
    public static string Chart => Helm.Chart(Name);

    /// <summary>The full path of the sidecar example chart in the repository.</summary>
    public static string SidecarExample => Path.Combine(RepoPaths.ChartTests, "connector-sidecar-example");

    /// <summary>
    /// Copies the sidecar example chart into a temporary folder, points its <c>file://</c> dependency at the
    /// repository's connector chart by absolute path, and runs <c>helm dependency build</c> there (offline), so the
    /// repository stays untouched. Dispose the result to delete the copy.
    /// </summary>
    public static async Task<TemporaryChart> BuildSidecarExampleAsync(Helm helm)
    {
        var folder = Directory.CreateTempSubdirectory("k8s-connector-sidecar-").FullName;
        var chart = Path.Combine(folder, "connector-sidecar-example");
        CopyDirectory(SidecarExample, chart);
        var chartYaml = Path.Combine(chart, "Chart.yaml");
        var text = await File.ReadAllTextAsync(chartYaml);
        const string relative = "file://../../../charts/webhook-connect-connector";
        if (!text.Contains(relative, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{chartYaml} no longer depends on {relative}; update {nameof(BuildSidecarExampleAsync)}");
        }

        await File.WriteAllTextAsync(chartYaml, text.Replace(relative, "file://" + Chart, StringComparison.Ordinal));
        var result = await helm.DependencyBuildAsync(chart);
        if (!result.Succeeded)
        {
            Directory.Delete(folder, recursive: true);
            throw new InvalidOperationException(result.ToString());
        }

        return new TemporaryChart(folder, chart);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var directory in Directory.EnumerateDirectories(from))
        {
            var name = Path.GetFileName(directory);
            if (name != "charts")
            {
                CopyDirectory(directory, Path.Combine(to, name));
            }
        }
    }
}

/// <summary>A chart copied into a temporary folder; disposing deletes the folder.</summary>
/// <param name="Folder">The temporary folder.</param>
/// <param name="Path">The chart's folder inside it.</param>
public sealed record TemporaryChart(string Folder, string Path) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is not worth failing a test for.
        }
    }
}

/// <summary>
/// The policy every rendered pod of the connector charts must follow: the restricted Pod Security Standard on every
/// container (set on the container or inherited from the pod), resources, probes on named ports, a pinned image, and
/// no secret value in a ConfigMap or an env literal. Written for the connector's tests, as a list of violations so a
/// failure names every problem at once.
/// </summary>
public static partial class ConnectorPodPolicy
{
    /// <summary>Every violation in <paramref name="manifest"/>'s pods and ConfigMaps; empty when it complies.</summary>
    public static IReadOnlyList<string> Violations(RenderedManifest manifest)
    {
        var violations = new List<string>();
        var secretValues = manifest.OfKind("Secret").SelectMany(s => s.Data.Values).Where(v => v.Length >= 8).ToHashSet(StringComparer.Ordinal);
        foreach (var configMap in manifest.OfKind("ConfigMap"))
        {
            foreach (var (key, value) in configMap.Data)
            {
                if (secretValues.Any(secret => value.Contains(secret, StringComparison.Ordinal)))
                {
                    violations.Add($"{configMap}: data.{key} contains the value of a Secret");
                }

                if (SecretLiteralPattern().IsMatch(value))
                {
                    violations.Add($"{configMap}: data.{key} has a literal token, secret or password");
                }
            }
        }

        foreach (var (owner, pod) in manifest.PodSpecs)
        {
            if ((bool?)pod["automountServiceAccountToken"] != false)
            {
                violations.Add($"{owner}: automountServiceAccountToken is not false");
            }

            var podContext = pod["securityContext"] as JsonObject;
            var containers = Containers(pod, "containers").Concat(Containers(pod, "initContainers"));
            foreach (var container in containers)
            {
                violations.AddRange(ContainerViolations($"{owner} container {(string?)container["name"]}", container, podContext, secretValues));
            }
        }

        return violations;
    }

    private static IEnumerable<JsonObject> Containers(JsonObject pod, string list) =>
        (pod[list] as JsonArray ?? []).OfType<JsonObject>();

    private static IEnumerable<string> ContainerViolations(string where, JsonObject container, JsonObject? podContext, HashSet<string> secretValues)
    {
        var context = container["securityContext"] as JsonObject;
        JsonNode? Effective(string key) => context?[key] ?? podContext?[key];

        if ((bool?)Effective("runAsNonRoot") != true)
        {
            yield return $"{where}: runAsNonRoot is not true";
        }

        if ((bool?)context?["allowPrivilegeEscalation"] != false)
        {
            yield return $"{where}: allowPrivilegeEscalation is not false";
        }

        if ((bool?)context?["readOnlyRootFilesystem"] != true)
        {
            yield return $"{where}: readOnlyRootFilesystem is not true";
        }

        var dropped = (context?["capabilities"]?["drop"] as JsonArray ?? []).Select(c => (string?)c).ToList();
        if (!dropped.Contains("ALL"))
        {
            yield return $"{where}: capabilities.drop does not contain ALL";
        }

        if ((string?)Effective("seccompProfile")?["type"] != "RuntimeDefault")
        {
            yield return $"{where}: seccompProfile.type is not RuntimeDefault";
        }

        var resources = container["resources"];
        foreach (var required in new[] { ("requests", "cpu"), ("requests", "memory"), ("limits", "memory") })
        {
            if (resources?[required.Item1]?[required.Item2] is null)
            {
                yield return $"{where}: resources.{required.Item1}.{required.Item2} is not set";
            }
        }

        var image = (string?)container["image"] ?? string.Empty;
        if (!image.Contains('@', StringComparison.Ordinal) && (!ImageTagPattern().IsMatch(image) || image.EndsWith(":latest", StringComparison.Ordinal)))
        {
            yield return $"{where}: image '{image}' has no fixed tag or digest";
        }

        var portNames = (container["ports"] as JsonArray ?? []).Select(p => (string?)p?["name"]).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var probe in new[] { "livenessProbe", "readinessProbe" })
        {
            var port = container[probe]?["httpGet"]?["port"];
            if (port is null)
            {
                yield return $"{where}: no {probe} with httpGet";
            }
            else if (port.GetValueKind() != System.Text.Json.JsonValueKind.String || !portNames.Contains((string)port!))
            {
                yield return $"{where}: {probe} is not on a named port of the container ({port.ToJsonString()})";
            }
        }

        foreach (var env in (container["env"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var name = (string?)env["name"] ?? string.Empty;
            var value = env["value"]?.ToString();
            if (value is null)
            {
                continue;
            }

            if (SecretNamePattern().IsMatch(name))
            {
                yield return $"{where}: env {name} is a literal; a secret belongs in valueFrom.secretKeyRef";
            }

            if (secretValues.Any(secret => value.Contains(secret, StringComparison.Ordinal)))
            {
                yield return $"{where}: env {name} contains the value of a Secret";
            }
        }
    }

    [GeneratedRegex("(?im)^\\s*(-\\s*)?[a-z_]*(token|secret|password)\\s*:\\s*\\S")]
    private static partial Regex SecretLiteralPattern();

    [GeneratedRegex("(?i)(TOKEN|SECRET|PASSWORD|API_?KEY)(?!_?(FILE|ENV|PATH|DIR))")]
    private static partial Regex SecretNamePattern();

    [GeneratedRegex(":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex ImageTagPattern();
}

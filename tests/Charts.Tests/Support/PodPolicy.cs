using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace WebhookConnect.Charts.Tests.Support;

/// <summary>
/// The policy every rendered pod spec must follow: the restricted Pod Security Standard plus a read-only root
/// filesystem, resources, probes on named ports, pinned images, no service-account token, and no secret value in a
/// ConfigMap or an environment literal. Returns every violation, each naming the object, container and field, so a
/// failing test lists all of them at once.
/// </summary>
public static partial class PodPolicy
{
    /// <summary>Every violation in <paramref name="manifest"/>; empty when it follows the policy.</summary>
    public static IReadOnlyList<string> Violations(RenderedManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var violations = new List<string>();
        var secretValues = manifest.OfKind("Secret")
            .SelectMany(s => s.Data.Select(d => (Where: $"{s}[{d.Key}]", Value: d.Value.Trim())))
            .Where(s => s.Value.Length >= 8)
            .ToList();

        foreach (var (owner, pod) in manifest.PodSpecs)
        {
            CheckPod(owner, pod, secretValues, violations);
        }

        foreach (var configMap in manifest.OfKind("ConfigMap"))
        {
            foreach (var (key, value) in configMap.Data)
            {
                foreach (var secret in secretValues.Where(s => value.Contains(s.Value, StringComparison.Ordinal)))
                {
                    violations.Add($"{configMap} data[{key}] contains the value of {secret.Where}");
                }

                foreach (Match line in SecretKeyLine().Matches(value))
                {
                    violations.Add($"{configMap} data[{key}] has a literal secret: '{line.Groups["key"].Value}: …' (use a *_file key)");
                }
            }
        }

        return violations;
    }

    private static void CheckPod(ManifestDocument owner, JsonObject pod, List<(string Where, string Value)> secretValues, List<string> violations)
    {
        var podSecurity = pod["securityContext"] as JsonObject;
        if (!IsFalse(pod["automountServiceAccountToken"]))
        {
            violations.Add($"{owner}: automountServiceAccountToken must be false (no service calls the Kubernetes API)");
        }

        var claimTemplates = (owner.At("spec", "volumeClaimTemplates") as JsonArray)?
            .Select(t => (string?)t?["metadata"]?["name"]).OfType<string>().ToHashSet(StringComparer.Ordinal) ?? [];
        var volumes = (pod["volumes"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        foreach (var volume in volumes)
        {
            if (volume["emptyDir"] is JsonObject emptyDir && emptyDir["sizeLimit"] is null)
            {
                violations.Add($"{owner}: emptyDir volume '{volume["name"]}' has no sizeLimit");
            }

            if (volume["hostPath"] is not null)
            {
                violations.Add($"{owner}: hostPath volume '{volume["name"]}'");
            }
        }

        foreach (var (container, native) in Containers(pod))
        {
            var where = $"{owner} container {container["name"]}";
            var security = container["securityContext"] as JsonObject;
            Require(IsTrue(security?["runAsNonRoot"]) || IsTrue(podSecurity?["runAsNonRoot"]), where, "runAsNonRoot: true", violations);
            Require(security?["runAsUser"] is null || (long)security["runAsUser"]! != 0, where, "runAsUser other than 0", violations);
            Require(IsFalse(security?["allowPrivilegeEscalation"]), where, "allowPrivilegeEscalation: false", violations);
            Require(IsTrue(security?["readOnlyRootFilesystem"]), where, "readOnlyRootFilesystem: true", violations);
            Require(!IsTrue(security?["privileged"]), where, "not privileged", violations);
            var drop = (security?["capabilities"]?["drop"] as JsonArray)?.Select(c => (string?)c) ?? [];
            Require(drop.Contains("ALL"), where, "capabilities.drop: [ALL]", violations);
            Require(security?["capabilities"]?["add"] is not JsonArray { Count: > 0 }, where, "no added capabilities", violations);
            var seccomp = (string?)(security?["seccompProfile"]?["type"] ?? podSecurity?["seccompProfile"]?["type"]);
            Require(seccomp is "RuntimeDefault" or "Localhost", where, "seccompProfile RuntimeDefault (or Localhost)", violations);

            var resources = container["resources"];
            Require(resources?["requests"]?["cpu"] is not null, where, "resources.requests.cpu", violations);
            Require(resources?["requests"]?["memory"] is not null, where, "resources.requests.memory", violations);
            Require(resources?["limits"]?["memory"] is not null, where, "resources.limits.memory", violations);

            CheckImage((string?)container["image"], where, violations);
            if (native)
            {
                CheckProbes(container, where, violations);
            }

            foreach (var env in (container["env"] as JsonArray)?.OfType<JsonObject>() ?? [])
            {
                CheckEnv(env, where, secretValues, violations);
            }

            foreach (var mount in (container["volumeMounts"] as JsonArray)?.OfType<JsonObject>() ?? [])
            {
                var name = (string?)mount["name"];
                var volume = volumes.FirstOrDefault(v => (string?)v["name"] == name);
                var writable = !IsTrue(mount["readOnly"]);
                var writableKind = volume?["emptyDir"] is not null || volume?["persistentVolumeClaim"] is not null || (volume is null && claimTemplates.Contains(name ?? string.Empty));
                if (writable && !writableKind && volume?["secret"] is null && volume?["configMap"] is null && volume?["projected"] is null)
                {
                    violations.Add($"{where}: volume '{name}' is mounted writable but is not an emptyDir or a PersistentVolumeClaim");
                }
            }
        }
    }

    // Containers that run for the pod's life (containers, and native sidecars: init containers with restartPolicy
    // Always) need probes; run-to-completion init containers do not.
    private static IEnumerable<(JsonObject Container, bool LongRunning)> Containers(JsonObject pod)
    {
        foreach (var container in (pod["containers"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            yield return (container, true);
        }

        foreach (var container in (pod["initContainers"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            yield return (container, (string?)container["restartPolicy"] == "Always");
        }
    }

    private static void CheckImage(string? image, string where, List<string> violations)
    {
        if (string.IsNullOrEmpty(image))
        {
            violations.Add($"{where}: no image");
            return;
        }

        if (image.Contains("@sha256:", StringComparison.Ordinal))
        {
            return;
        }

        var lastSegment = image[(image.LastIndexOf('/') + 1)..];
        var colon = lastSegment.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            violations.Add($"{where}: image '{image}' has no tag (that means latest)");
        }
        else if (lastSegment[(colon + 1)..] is "latest" or "")
        {
            violations.Add($"{where}: image '{image}' uses the latest tag");
        }
    }

    private static void CheckProbes(JsonObject container, string where, List<string> violations)
    {
        var portNames = (container["ports"] as JsonArray)?.Select(p => (string?)p?["name"]).OfType<string>().ToHashSet(StringComparer.Ordinal) ?? [];
        foreach (var probeName in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
        {
            if (container[probeName] is not JsonObject probe)
            {
                violations.Add($"{where}: no {probeName}");
                continue;
            }

            var port = probe["httpGet"]?["port"] ?? probe["tcpSocket"]?["port"];
            if (port is null)
            {
                violations.Add($"{where}: {probeName} is neither httpGet nor tcpSocket on a named port");
            }
            else if (port.GetValueKind() != System.Text.Json.JsonValueKind.String)
            {
                violations.Add($"{where}: {probeName} uses port number {port}, not a named port");
            }
            else if (!portNames.Contains((string)port!))
            {
                violations.Add($"{where}: {probeName} uses port '{port}', which the container does not declare");
            }
        }
    }

    private static void CheckEnv(JsonObject env, string where, List<(string Where, string Value)> secretValues, List<string> violations)
    {
        var name = (string?)env["name"] ?? string.Empty;
        if (env["value"] is not JsonNode valueNode)
        {
            return;
        }

        var value = valueNode.ToString();
        foreach (var secret in secretValues.Where(s => value.Contains(s.Value, StringComparison.Ordinal)))
        {
            violations.Add($"{where}: env {name} contains the value of {secret.Where}");
        }

        if (SecretName().IsMatch(name) && !FileName().IsMatch(name) && value.Length > 0)
        {
            violations.Add($"{where}: env {name} has a literal value; take it from a Secret (valueFrom.secretKeyRef or a mounted file)");
        }

        if (InlinePassword().IsMatch(value))
        {
            violations.Add($"{where}: env {name} carries a literal password; reference a Secret-backed variable as $(NAME)");
        }
    }

    private static void Require(bool holds, string where, string what, List<string> violations)
    {
        if (!holds)
        {
            violations.Add($"{where}: needs {what}");
        }
    }

    private static bool IsTrue(JsonNode? node) => node?.GetValueKind() == System.Text.Json.JsonValueKind.True;

    private static bool IsFalse(JsonNode? node) => node?.GetValueKind() == System.Text.Json.JsonValueKind.False;

    [GeneratedRegex("(TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|CREDENTIAL)", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    // Settings that name a file (Admin__TokenFile, QueueManager__InternalTokenFile, *_FILE) hold paths, not secrets.
    [GeneratedRegex("(File|_FILE|Path|Directories)$")]
    private static partial Regex FileName();

    // password=… in a connection string, unless it is a $(VAR) reference the kubelet expands from a Secret.
    [GeneratedRegex(@"password=(?!\$\()[^,]+", RegexOptions.IgnoreCase)]
    private static partial Regex InlinePassword();

    // A YAML or properties line that sets token/secret/password (not token_file, secret_env, …) to a value.
    [GeneratedRegex(@"^\s*(-\s*)?(?<key>[A-Za-z_]*(token|secret|password|passwd))\s*[:=]\s*[^\s{#]", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex SecretKeyLine();
}

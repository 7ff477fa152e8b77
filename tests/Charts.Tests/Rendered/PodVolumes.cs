using System.Text;
using System.Text.RegularExpressions;

namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>
/// A pod's volumes as directories under the test's temporary directory, because a test writes nowhere else:
/// volume <c>v</c> of pod <c>p</c> is <c>&lt;temp&gt;/p/v/</c>, holding the ConfigMap or Secret entries it projects
/// (all keys, or the <c>items</c> with their paths), or nothing for an <c>emptyDir</c> or a claim. A container's
/// <c>mountPath</c> (with its <c>subPath</c>) stands for that directory: <see cref="MapPaths"/> rewrites each mount path
/// at the start of a path to it, consistently in env values, args and the mounted files' own contents (a config file
/// naming a token file). The image's <c>/app</c> maps to the built service output (see <see cref="DockerImage"/>).
/// </summary>
public sealed partial class PodVolumes
{
    private readonly List<(string PodPath, string Local)> _podMounts = [];

    private PodVolumes(string root) => Root = root;

    public string Root { get; }

    /// <summary>Files written from ConfigMaps and Secrets: local path → (pod path per container, source).</summary>
    public List<MountedFile> Files { get; } = [];

    /// <summary>Writes <paramref name="pod"/>'s volumes under <paramref name="root"/>. A ConfigMap or Secret that is
    /// neither rendered nor provided by the test fails, unless the volume says <c>optional</c>.</summary>
    public static PodVolumes Materialize(RenderedRelease release, RenderedPod pod, string root)
    {
        var volumes = new PodVolumes(root);
        var claims = pod.Workload.Spec.VolumeClaimTemplates.Select(t => t.Metadata.Name);
        var directories = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in pod.Spec.Volumes.Select(v => v.Name).Concat(claims))
        {
            directories[name] = Directory.CreateDirectory(Path.Combine(root, pod.Name, name)).FullName;
        }

        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var volume in pod.Spec.Volumes)
        {
            var directory = directories[volume.Name];
            if (volume.ConfigMap is { } configMap)
            {
                volumes.Project(release, pod, "ConfigMap", configMap.Name, configMap.Items, configMap.Optional, directory, sources);
            }
            else if (volume.Secret is { } secret)
            {
                volumes.Project(release, pod, "Secret", secret.SecretName, secret.Items, secret.Optional, directory, sources);
            }
            else if (volume.Projected is { } projected)
            {
                foreach (var source in projected.Sources)
                {
                    if (source.ConfigMap is { } c)
                    {
                        volumes.Project(release, pod, "ConfigMap", c.Name, c.Items, c.Optional, directory, sources);
                    }

                    if (source.Secret is { } s)
                    {
                        volumes.Project(release, pod, "Secret", s.Name, s.Items, s.Optional, directory, sources);
                    }
                }
            }
        }

        foreach (var container in pod.AllContainers)
        {
            foreach (var mount in container.VolumeMounts)
            {
                if (!directories.TryGetValue(mount.Name, out var directory))
                {
                    throw new InvalidOperationException($"{pod.Name}/{container.Name} mounts volume '{mount.Name}', which the pod does not declare");
                }

                var local = string.IsNullOrEmpty(mount.SubPath) ? directory : Path.Combine(directory, mount.SubPath);
                var podPath = mount.MountPath.TrimEnd('/');
                var clash = volumes._podMounts.FirstOrDefault(m => m.PodPath == podPath);
                if (clash.PodPath is not null && clash.Local != local)
                {
                    throw new InvalidOperationException($"{pod.Name}: two containers mount different volumes at {podPath}; this harness maps a mount path once per pod");
                }

                if (clash.PodPath is null)
                {
                    volumes._podMounts.Add((podPath, local));
                }
            }
        }

        // Longest mount paths first, so /etc/wc/secrets wins over /etc/wc.
        volumes._podMounts.Sort((a, b) => b.PodPath.Length.CompareTo(a.PodPath.Length));
        foreach (var file in volumes.Files)
        {
            file.Source = sources[file.Local];
        }

        return volumes;
    }

    /// <summary>The path in the pod where <paramref name="container"/> sees <paramref name="file"/>, or null when it
    /// does not mount its volume.</summary>
    public static string? PodPathOf(Container container, MountedFile file, PodVolumes volumes)
    {
        foreach (var mount in container.VolumeMounts)
        {
            var local = volumes._podMounts.FirstOrDefault(m => m.PodPath == mount.MountPath.TrimEnd('/')).Local;
            if (local is not null && (file.Local == local || file.Local.StartsWith(local + "/", StringComparison.Ordinal)))
            {
                return mount.MountPath.TrimEnd('/') + file.Local[local.Length..];
            }
        }

        return null;
    }

    /// <summary>Rewrites every path that starts with a mount path of this pod (or with the image's
    /// <see cref="DockerImage.AppDirectory"/>, when <paramref name="appDirectory"/> is given) to its local directory.</summary>
    public string MapPaths(string text, string? appDirectory)
    {
        var mappings = appDirectory is null ? _podMounts : [.. _podMounts, (DockerImage.AppDirectory, appDirectory)];
        foreach (var (podPath, local) in mappings.OrderByDescending(m => m.PodPath.Length))
        {
            text = Regex.Replace(text, $@"(?<![\w.\-/]){Regex.Escape(podPath)}(?=/|$|[^\w.\-])", local.Replace("$", "$$", StringComparison.Ordinal));
        }

        return text;
    }

    /// <summary>Rewrites the text files this pod mounts (addresses and paths in a config file) with <paramref name="rewrite"/>.
    /// PEM files and files that are not UTF-8 text are left as they are.</summary>
    public void RewriteFiles(Func<string, MountedFile, string> rewrite)
    {
        foreach (var file in Files)
        {
            var bytes = File.ReadAllBytes(file.Local);
            string text;
            try
            {
                text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                continue;
            }

            if (!text.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                File.WriteAllText(file.Local, rewrite(text, file));
            }
        }
    }

    private void Project(RenderedRelease release, RenderedPod pod, string kind, string name, List<KeyToPath>? items, bool optional, string directory, Dictionary<string, string> sources)
    {
        var source = release.Find(kind, name);
        if (source is null)
        {
            if (optional)
            {
                return;
            }

            throw new InvalidOperationException($"{pod.Name} mounts {kind} {name}, which the chart does not render and the test profile does not provide");
        }

        var entries = KubeObjects.Entries(source);
        foreach (var (key, relative) in items is { Count: > 0 } ? items.Select(i => (i.Key, i.Path)) : entries.Keys.Select(k => (k, k)))
        {
            if (!entries.TryGetValue(key, out var content))
            {
                throw new InvalidOperationException($"{pod.Name} mounts key '{key}' of {kind} {name}, which has no such key (keys: {string.Join(", ", entries.Keys)})");
            }

            var local = Path.Combine(directory, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            File.WriteAllBytes(local, content);
            Files.Add(new MountedFile(local));
            sources[local] = $"{kind} {name} key {key}";
        }
    }
}

/// <summary>A file a ConfigMap or Secret volume puts into a pod.</summary>
public sealed class MountedFile(string local)
{
    public string Local { get; } = local;

    /// <summary>"Secret x key y": where the content came from.</summary>
    public string Source { get; set; } = "";
}

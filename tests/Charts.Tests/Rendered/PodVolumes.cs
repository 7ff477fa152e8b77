using System.Text;
using System.Text.RegularExpressions;

namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>
/// A pod's filesystem as far as its volumes go, under the test's temporary directory because a test writes nowhere
/// else: pod <c>p</c>'s root is <c>&lt;temp&gt;/p/</c>, and each volume sits at the path its (first) container mounts it
/// on, <c>&lt;temp&gt;/p&lt;mountPath&gt;</c>, holding the ConfigMap or Secret entries it projects (all keys, or the
/// <c>items</c> with their paths) or nothing for an <c>emptyDir</c> or a claim; a second mount of the same volume (or a
/// <c>subPath</c>) is a symlink to it. <see cref="MapPaths"/> rewrites every pod path that is a mount path, lies under
/// one, or is a directory above one (where the kubelet creates the mount points) to <c>&lt;temp&gt;/p&lt;path&gt;</c>,
/// consistently in env values, args and the mounted files' own contents (a config file naming a token file). The
/// image's <c>/app</c> maps to the built service output (see <see cref="DockerImage"/>).
/// </summary>
public sealed class PodVolumes
{
    private readonly List<string> _mountPaths = [];

    private PodVolumes(string root) => Root = root;

    /// <summary>The pod's root: pod path <c>/x</c> is <c>Root + "/x"</c> here.</summary>
    public string Root { get; }

    /// <summary>Files written from ConfigMaps and Secrets.</summary>
    public List<MountedFile> Files { get; } = [];

    /// <summary>Writes <paramref name="pod"/>'s volumes under <paramref name="root"/>. A ConfigMap or Secret that is
    /// neither rendered nor provided by the test fails, unless the volume says <c>optional</c>.</summary>
    public static PodVolumes Materialize(RenderedRelease release, RenderedPod pod, string root)
    {
        var volumes = new PodVolumes(Path.Combine(root, pod.Name));
        var declared = pod.Spec.Volumes.Select(v => v.Name).Concat(pod.Workload.Spec.VolumeClaimTemplates.Select(t => t.Metadata.Name)).ToHashSet(StringComparer.Ordinal);
        var placed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var container in pod.AllContainers)
        {
            foreach (var mount in container.VolumeMounts)
            {
                if (!declared.Contains(mount.Name))
                {
                    throw new InvalidOperationException($"{pod.Name}/{container.Name} mounts volume '{mount.Name}', which the pod does not declare");
                }

                var podPath = mount.MountPath.TrimEnd('/');
                var local = volumes.Root + podPath;
                if (!volumes._mountPaths.Contains(podPath))
                {
                    volumes._mountPaths.Add(podPath);
                }
                else
                {
                    continue; // the same path in another container of the pod: one directory serves both
                }

                if (string.IsNullOrEmpty(mount.SubPath) && !placed.ContainsKey(mount.Name))
                {
                    placed[mount.Name] = Directory.CreateDirectory(local).FullName;
                    continue;
                }

                if (!placed.TryGetValue(mount.Name, out var volumeDirectory))
                {
                    volumeDirectory = placed[mount.Name] = Directory.CreateDirectory(Path.Combine(volumes.Root, ".volumes", mount.Name)).FullName;
                }

                var linkTarget = string.IsNullOrEmpty(mount.SubPath) ? volumeDirectory : Path.Combine(volumeDirectory, mount.SubPath);
                Directory.CreateDirectory(Path.GetDirectoryName(local)!);
                Directory.CreateSymbolicLink(local, linkTarget);
            }
        }

        foreach (var volume in pod.Spec.Volumes)
        {
            if (!placed.TryGetValue(volume.Name, out var directory))
            {
                continue; // mounted by no container: nothing reads it
            }

            if (volume.ConfigMap is { } configMap)
            {
                volumes.Project(release, pod, volume.Name, "ConfigMap", configMap.Name, configMap.Items, configMap.Optional, directory);
            }
            else if (volume.Secret is { } secret)
            {
                volumes.Project(release, pod, volume.Name, "Secret", secret.SecretName, secret.Items, secret.Optional, directory);
            }
            else if (volume.Projected is { } projected)
            {
                foreach (var source in projected.Sources)
                {
                    if (source.ConfigMap is { } c)
                    {
                        volumes.Project(release, pod, volume.Name, "ConfigMap", c.Name, c.Items, c.Optional, directory);
                    }

                    if (source.Secret is { } s)
                    {
                        volumes.Project(release, pod, volume.Name, "Secret", s.Name, s.Items, s.Optional, directory);
                    }
                }
            }
        }

        return volumes;
    }

    /// <summary>The path in the pod where <paramref name="container"/> sees <paramref name="file"/>, or null when it
    /// does not mount its volume.</summary>
    public static string? PodPathOf(Container container, MountedFile file)
    {
        foreach (var mount in container.VolumeMounts.Where(m => m.Name == file.Volume))
        {
            var relative = file.RelativePath;
            if (!string.IsNullOrEmpty(mount.SubPath))
            {
                if (relative != mount.SubPath && !relative.StartsWith(mount.SubPath.TrimEnd('/') + "/", StringComparison.Ordinal))
                {
                    continue;
                }

                relative = relative[mount.SubPath.TrimEnd('/').Length..].TrimStart('/');
            }

            return relative.Length == 0 ? mount.MountPath.TrimEnd('/') : $"{mount.MountPath.TrimEnd('/')}/{relative}";
        }

        return null;
    }

    /// <summary>Whether <paramref name="podPath"/> exists in the pod's filesystem as this harness lays it out: on a
    /// volume, or a directory above a mount point.</summary>
    public bool Exists(string podPath) =>
        _mountPaths.Any(m => podPath == m || podPath.StartsWith(m + "/", StringComparison.Ordinal) || m.StartsWith(podPath.TrimEnd('/') + "/", StringComparison.Ordinal));

    /// <summary>Rewrites every pod path on or above a mount of this pod (and, when <paramref name="appDirectory"/> is
    /// given, the image's <see cref="DockerImage.AppDirectory"/>) to where it is on this machine.</summary>
    public string MapPaths(string text, string? appDirectory)
    {
        // One pass, longest prefix first, so a rewritten path (under the temporary directory, itself maybe a mount
        // path such as /tmp) is never rewritten again. Ancestors of mount points too (a directory of secret folders).
        var targets = _mountPaths.SelectMany(Ancestors).Distinct(StringComparer.Ordinal).ToDictionary(p => p, p => Root + p, StringComparer.Ordinal);
        if (appDirectory is not null)
        {
            targets[DockerImage.AppDirectory] = appDirectory;
        }

        if (targets.Count == 0)
        {
            return text;
        }

        var alternatives = string.Join('|', targets.Keys.OrderByDescending(p => p.Length).Select(Regex.Escape));
        return Regex.Replace(text, $@"(?<![\w.\-/])(?:{alternatives})(?=/|$|[^\w.\-])", match => targets[match.Value], RegexOptions.Multiline);
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

    private static IEnumerable<string> Ancestors(string path)
    {
        for (var current = path; current.Length > 1; current = current[..current.LastIndexOf('/')])
        {
            yield return current;
            if (current.LastIndexOf('/') == 0)
            {
                yield break;
            }
        }
    }

    private void Project(RenderedRelease release, RenderedPod pod, string volume, string kind, string name, List<KeyToPath>? items, bool optional, string directory)
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
            Files.Add(new MountedFile(local, volume, relative, $"{kind} {name} key {key}"));
        }
    }
}

/// <summary>A file a ConfigMap or Secret volume puts into a pod: where it is here, its volume and path in the volume,
/// and where its content came from ("Secret x key y").</summary>
public sealed record MountedFile(string Local, string Volume, string RelativePath, string Source);

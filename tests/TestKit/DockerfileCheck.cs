using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace WebhookConnect.TestKit;

/// <summary>
/// Images cannot be built here (no Docker engine), so a service's Dockerfile is checked against its project graph:
/// every project the service references (transitively) must be copied before <c>dotnet restore</c>, the image runs
/// as the non-root user, and it never copies the whole context.
/// </summary>
public static partial class DockerfileCheck
{
    /// <summary>Returns the problems found (empty when the Dockerfile is right). <paramref name="hostSettings"/> are the
    /// service's listener address settings (<c>Ingress__Host</c>, …): they default to loopback, so the image must set
    /// each to <c>0.0.0.0</c> or the container could not be reached.</summary>
    public static IReadOnlyList<string> Problems(string serviceFolder, string projectFile, params string[] hostSettings)
    {
        var dockerfilePath = Path.Combine(RepoPaths.Root, "services", serviceFolder, "Dockerfile");
        var dockerfile = File.ReadAllText(dockerfilePath);
        var problems = new List<string>();
        var restoreAt = dockerfile.IndexOf("RUN dotnet restore", StringComparison.Ordinal);
        if (restoreAt < 0)
        {
            return [$"services/{serviceFolder}/Dockerfile has no 'RUN dotnet restore' step"];
        }

        var copied = CopySources().Matches(dockerfile[..restoreAt]).Select(m => m.Groups["path"].Value.TrimEnd('/')).ToHashSet(StringComparer.Ordinal);
        foreach (var project in ProjectClosure(Path.Combine(RepoPaths.Root, "services", serviceFolder, projectFile)))
        {
            var relative = Path.GetRelativePath(RepoPaths.Root, project).Replace('\\', '/');
            if (!copied.Contains(relative) && !copied.Any(dir => relative.StartsWith(dir + "/", StringComparison.Ordinal)))
            {
                problems.Add($"{relative} is referenced by the service but not copied before 'dotnet restore' in services/{serviceFolder}/Dockerfile");
            }
        }

        if (!dockerfile.Contains("USER $APP_UID", StringComparison.Ordinal))
        {
            problems.Add("the image does not switch to the non-root user (USER $APP_UID)");
        }

        foreach (var setting in hostSettings)
        {
            if (!Regex.IsMatch(dockerfile, $@"^(ENV\s+|\s+){Regex.Escape(setting)}=0\.0\.0\.0\b", RegexOptions.Multiline))
            {
                problems.Add($"services/{serviceFolder}/Dockerfile does not set {setting}=0.0.0.0: the listener would stay on the container's loopback");
            }
        }

        if (dockerfile.Contains("COPY . .", StringComparison.Ordinal))
        {
            problems.Add("COPY . . defeats restore caching; copy project files, restore, then sources");
        }

        return problems;
    }

    private static HashSet<string> ProjectClosure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(project)]);
        while (pending.TryPop(out var next))
        {
            if (!seen.Add(next))
            {
                continue;
            }

            foreach (var reference in XDocument.Load(next).Descendants("ProjectReference"))
            {
                pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(next)!, reference.Attribute("Include")!.Value)));
            }
        }

        return seen;
    }

    [GeneratedRegex(@"^COPY\s+(?:--\S+\s+)*(?<path>\S+)\s+\S+\s*$", RegexOptions.Multiline)]
    private static partial Regex CopySources();
}

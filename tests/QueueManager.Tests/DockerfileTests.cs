using System.Text.RegularExpressions;
using System.Xml.Linq;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>The image cannot be built here (no Docker engine), so the Dockerfile's restore layer is checked against
/// the project graph: a project reference added later without its COPY line would break the image build.</summary>
public sealed partial class DockerfileTests
{
    [Fact]
    public void EveryProjectTheServiceNeedsIsCopiedBeforeTheRestore()
    {
        var dockerfile = File.ReadAllText(Path.Combine(RepoPaths.Root, "services", "QueueManager", "Dockerfile"));
        var restoreAt = dockerfile.IndexOf("RUN dotnet restore", StringComparison.Ordinal);
        Assert.True(restoreAt > 0, "the Dockerfile has no dotnet restore step");
        var copied = CopySources().Matches(dockerfile[..restoreAt]).Select(m => m.Groups["path"].Value.TrimEnd('/')).ToHashSet(StringComparer.Ordinal);

        var needed = ProjectClosure(Path.Combine(RepoPaths.Root, "services", "QueueManager", "WebhookConnect.QueueManager.csproj"));

        Assert.NotEmpty(needed);
        foreach (var project in needed)
        {
            var relative = Path.GetRelativePath(RepoPaths.Root, project).Replace('\\', '/');
            Assert.True(
                copied.Contains(relative) || copied.Any(dir => relative.StartsWith(dir + "/", StringComparison.Ordinal)),
                $"{relative} is referenced by the queue-manager but not copied before 'dotnet restore' in services/QueueManager/Dockerfile");
        }

        Assert.Contains("USER $APP_UID", dockerfile, StringComparison.Ordinal);
        Assert.DoesNotContain("COPY . .", dockerfile, StringComparison.Ordinal);
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

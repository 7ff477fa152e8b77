using System.Text.Json;
using System.Text.RegularExpressions;
using WebhookConnect.TestKit;

namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>
/// What a service's image gives a container before the pod spec adds its own: the final stage's <c>WORKDIR</c>,
/// <c>ENV</c>, <c>ENTRYPOINT</c> and <c>CMD</c>, read from <c>services/&lt;Service&gt;/Dockerfile</c>. No image can be
/// built here (no Docker engine), so the built service output stands in for the image's <c>/app</c>
/// (<see cref="AppDirectory"/>), which is what <c>dotnet publish -o /app</c> puts there.
/// </summary>
/// <remarks>Hand-written: no library on the registry parses Dockerfiles, and the four files use only the exec form
/// of ENTRYPOINT/CMD and <c>key=value</c> ENV lines with backslash continuations, which this reads and nothing else.</remarks>
public sealed partial class DockerImage
{
    private DockerImage(string serviceFolder, string workDir, IReadOnlyList<KeyValuePair<string, string>> env, IReadOnlyList<string> entrypoint, IReadOnlyList<string> cmd)
    {
        ServiceFolder = serviceFolder;
        WorkDir = workDir;
        Env = env;
        Entrypoint = entrypoint;
        Cmd = cmd;
    }

    /// <summary>The image's application directory: where <c>COPY --from=build /app ./</c> puts the published service.</summary>
    public const string AppDirectory = "/app";

    public string ServiceFolder { get; }

    public string WorkDir { get; }

    public IReadOnlyList<KeyValuePair<string, string>> Env { get; }

    public IReadOnlyList<string> Entrypoint { get; }

    public IReadOnlyList<string> Cmd { get; }

    /// <summary>Reads the final stage of <c>services/<paramref name="serviceFolder"/>/Dockerfile</c>.</summary>
    public static DockerImage Read(string serviceFolder)
    {
        var path = Path.Combine(RepoPaths.Root, "services", serviceFolder, "Dockerfile");
        var lines = Logical(File.ReadAllLines(path)).ToList();
        var lastFrom = lines.FindLastIndex(line => line.StartsWith("FROM ", StringComparison.OrdinalIgnoreCase));
        var workDir = "/";
        var env = new List<KeyValuePair<string, string>>();
        IReadOnlyList<string> entrypoint = [];
        IReadOnlyList<string> cmd = [];
        foreach (var line in lines.Skip(lastFrom + 1))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var (instruction, rest) = space < 0 ? (line, "") : (line[..space].ToUpperInvariant(), line[(space + 1)..].Trim());
            switch (instruction)
            {
                case "WORKDIR":
                    workDir = rest.StartsWith('/') ? rest : Path.Combine(workDir, rest);
                    break;
                case "ENV":
                    foreach (Match pair in EnvPair().Matches(rest))
                    {
                        env.RemoveAll(e => e.Key == pair.Groups["key"].Value);
                        env.Add(new(pair.Groups["key"].Value, pair.Groups["value"].Value.Trim('"')));
                    }

                    break;
                case "ENTRYPOINT":
                    entrypoint = ExecForm(rest, path, instruction);
                    break;
                case "CMD":
                    cmd = ExecForm(rest, path, instruction);
                    break;
            }
        }

        return new DockerImage(serviceFolder, workDir, env, entrypoint, cmd);
    }

    private static List<string> ExecForm(string text, string path, string instruction)
    {
        try
        {
            return JsonSerializer.Deserialize<List<string>>(text) ?? [];
        }
        catch (JsonException)
        {
            throw new InvalidOperationException($"{path}: {instruction} {text} is not in exec form (a JSON array); the pod would run it through a shell that the image may not have");
        }
    }

    /// <summary>Joins backslash-continued lines and drops comments and blank lines.</summary>
    private static IEnumerable<string> Logical(IEnumerable<string> lines)
    {
        var current = "";
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || (line.Length == 0 && current.Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }

            yield return current + line;
            current = "";
        }
    }

    [GeneratedRegex(@"(?<key>[A-Za-z_][A-Za-z0-9_]*)=(?<value>""[^""]*""|\S*)")]
    private static partial Regex EnvPair();
}

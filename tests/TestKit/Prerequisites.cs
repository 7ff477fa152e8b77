using System.Text.Json;

namespace WebhookConnect.TestKit;

/// <summary>
/// Checks for the external tools a test needs. A missing tool makes the test fail with the command that installs
/// it: a skipped test would let a machine without the tool report green while proving nothing.
/// </summary>
public static class Prerequisites
{
    private const string InteropInstallCommand = "npm ci --prefix tests/interop";

    /// <summary>Finds <paramref name="name"/> on PATH (or at a path, when it contains a directory) and returns its full path.</summary>
    /// <exception cref="InvalidOperationException">Not found; the message carries <paramref name="installHint"/>.</exception>
    public static string RequireExecutable(string name, string installHint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return FindExecutable(name)
            ?? throw new InvalidOperationException($"'{name}' is required but was not found on PATH. Install it with: {installHint}");
    }

    /// <summary>
    /// Requires <c>node</c> and the packages of tests/interop/package.json, installed at the pinned versions
    /// (a stale node_modules after a version bump would test something other than what the lock file says).
    /// </summary>
    public static void RequireNodeInteropPackages() => RequireNodePackages(RepoPaths.Interop, InteropInstallCommand);

    /// <summary>
    /// Requires <c>node</c> and the dependencies of <paramref name="folder"/>'s package.json installed at the pinned
    /// versions (a stale node_modules after a version bump would test something other than what the lock file says).
    /// </summary>
    /// <param name="folder">A folder with a package.json whose dependencies are pinned to exact versions.</param>
    /// <param name="installCommand">The command that installs them, for the failure message.</param>
    public static void RequireNodePackages(string folder, string installCommand)
    {
        RequireExecutable("node", "apt-get install nodejs (Node.js 20 or later), then run: " + installCommand);

        var packageJson = Path.Combine(folder, "package.json");
        using var manifest = JsonDocument.Parse(File.ReadAllText(packageJson));
        foreach (var dependency in manifest.RootElement.GetProperty("dependencies").EnumerateObject())
        {
            var pinned = dependency.Value.GetString();
            var installedManifest = Path.Combine(folder, "node_modules", dependency.Name, "package.json");
            if (!File.Exists(installedManifest))
            {
                throw new InvalidOperationException(
                    $"The test package '{dependency.Name}' is not installed ({installedManifest} is missing); run: {installCommand}");
            }

            using var installed = JsonDocument.Parse(File.ReadAllText(installedManifest));
            var version = installed.RootElement.GetProperty("version").GetString();
            if (!string.Equals(version, pinned, StringComparison.Ordinal))
            {
                throw new InvalidOperationException(
                    $"The test package '{dependency.Name}' is installed at {version} but package.json pins {pinned}; run: {installCommand}");
            }
        }
    }

    private static string? FindExecutable(string name)
    {
        if (name.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal) || name.Contains(Path.AltDirectorySeparatorChar, StringComparison.Ordinal))
        {
            return IsExecutable(name) ? Path.GetFullPath(name) : null;
        }

        var directories = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var directory in directories)
        {
            foreach (var candidate in CandidateFileNames(name))
            {
                var path = Path.Combine(directory, candidate);
                if (IsExecutable(path))
                {
                    return path;
                }
            }
        }

        return null;
    }

    // Windows resolves "node" to node.exe through PATHEXT; elsewhere the name is the file name.
    private static IEnumerable<string> CandidateFileNames(string name)
    {
        yield return name;
        if (OperatingSystem.IsWindows())
        {
            var extensions = Environment.GetEnvironmentVariable("PATHEXT") ?? ".EXE;.CMD;.BAT";
            foreach (var extension in extensions.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                yield return name + extension;
            }
        }
    }

    private static bool IsExecutable(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        if (OperatingSystem.IsWindows())
        {
            return true;
        }

        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (File.GetUnixFileMode(path) & anyExecute) != 0;
    }
}

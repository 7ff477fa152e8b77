namespace WebhookConnect.Admin.Declarative;

/// <summary>
/// Where a channels file's <c>*_file</c> and <c>*_env</c> keys may read from (issue 20, finding 9): only into secret
/// fields (the channel token, verification secrets, a bearer token, a basic password: never returned by the API), only
/// files inside <see cref="Directories"/> (the path and, for a symlink, its final target; never an admin token file)
/// and only environment variables allowed by <see cref="EnvPrefixes"/>. So whoever can edit the channels file cannot
/// pull an admin token, or any other readable file or setting, into something a read-only token can read.
/// </summary>
public sealed record SubstitutionPolicy(IReadOnlyList<string> Directories, IReadOnlyList<string> EnvPrefixes, IReadOnlySet<string> ForbiddenFiles)
{
    /// <summary>The fields that may be substituted, by name (under an endpoint's <c>verification</c>, or the channel's
    /// <c>token</c>).</summary>
    public static readonly IReadOnlySet<string> SecretFields = new HashSet<string>(StringComparer.Ordinal) { "secret", "token", "password" };

    public static SubstitutionPolicy From(AdminOptions options)
    {
        var directories = AdminOptions.Split(options.ChannelsFileSecretDirectories);
        if (directories.Length == 0 && options.ChannelsFile.Length > 0)
        {
            directories = [Path.GetDirectoryName(Path.GetFullPath(options.ChannelsFile)) ?? "/"];
        }

        var forbidden = new[] { options.TokenFile, options.ContentsTokenFile, options.ReadOnlyTokenFile }
            .Where(f => f.Length > 0)
            .Select(Path.GetFullPath)
            .ToHashSet(StringComparer.Ordinal);
        return new SubstitutionPolicy([.. directories.Select(d => Path.TrimEndingDirectorySeparator(Path.GetFullPath(d)))], AdminOptions.Split(options.ChannelsFileEnvPrefixes), forbidden);
    }

    /// <summary>Why <paramref name="path"/> may not be read, or null when it may.</summary>
    public string? FileProblem(string path)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            return $"'{path}' is not an absolute path";
        }

        var full = Path.GetFullPath(path);
        var target = full;
        try
        {
            target = File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
        }
        catch (IOException)
        {
            // Not a link we can follow: judged by its own path, and reading it fails later if it is broken.
        }

        if (ForbiddenFiles.Contains(full) || ForbiddenFiles.Contains(target))
        {
            return $"'{path}' is an admin token file";
        }

        return Inside(full) && Inside(target)
            ? null
            : $"'{path}' is outside the directories secrets may be read from ({string.Join(", ", Directories)}; setting Admin:ChannelsFileSecretDirectories)";
    }

    /// <summary>Why the variable <paramref name="name"/> may not be read, or null when it may.</summary>
    public string? EnvProblem(string name)
    {
        if (EnvPrefixes.Count == 0)
        {
            return name.Contains("__", StringComparison.Ordinal)
                ? $"environment variable '{name}' looks like a setting of this service (its name has '__'); name secrets without it, or allow a prefix with Admin:ChannelsFileEnvPrefixes"
                : null;
        }

        return EnvPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal))
            ? null
            : $"environment variable '{name}' does not start with an allowed prefix ({string.Join(", ", EnvPrefixes)}; setting Admin:ChannelsFileEnvPrefixes)";
    }

    private bool Inside(string path) =>
        Directories.Any(d => path.StartsWith(d + Path.DirectorySeparatorChar, StringComparison.Ordinal));
}

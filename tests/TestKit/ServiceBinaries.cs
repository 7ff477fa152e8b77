namespace WebhookConnect.TestKit;

/// <summary>
/// Where the built service binaries are, so tests run the real services as separate processes. A test project
/// builds them through a ProjectReference with ReferenceOutputAssembly=false, in its own configuration.
/// </summary>
public static class ServiceBinaries
{
    /// <summary>The build configuration of the running test assembly ("Release" or "Debug"), which the binaries share.</summary>
    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    /// <summary>
    /// Set to another checkout's root, the benchmarks run that checkout's built services (same configuration) instead
    /// of this one's: a before/after comparison then runs one benchmark program, which prints the same figures, against
    /// both builds (docs/performance.md).
    /// </summary>
    public const string RootVariable = "WEBHOOKCONNECT_SERVICES_FROM";

    /// <summary>The path of a service's main assembly, e.g. <c>("QueueManager", "WebhookConnect.QueueManager")</c>.</summary>
    public static string Assembly(string serviceFolder, string assemblyName)
    {
        var root = Environment.GetEnvironmentVariable(RootVariable) is { Length: > 0 } other ? other : RepoPaths.Root;
        var path = Path.Combine(root, "services", serviceFolder, "bin", Configuration, "net10.0", assemblyName + ".dll");
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"The {serviceFolder} service is not built at {path}; run: dotnet build -c {Configuration} services/{serviceFolder}");
    }

    /// <summary>Starts a service binary with <c>dotnet</c>, with settings as command-line flags (<c>--Section:Key=value</c>)
    /// and, when given, runtime environment variables (<c>DOTNET_GCHeapHardLimit</c>: what a container's memory limit
    /// does to the garbage collector).</summary>
    public static ChildProcess Start(string name, string assemblyPath, IReadOnlyDictionary<string, string> settings, IReadOnlyDictionary<string, string?>? env = null)
    {
        var arguments = new List<string> { assemblyPath };
        arguments.AddRange(settings.Select(setting => $"--{setting.Key}={setting.Value}"));
        return ChildProcess.Start(name, "dotnet", arguments, env, workingDirectory: Path.GetDirectoryName(assemblyPath));
    }
}

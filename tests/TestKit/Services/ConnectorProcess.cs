using System.Globalization;
using System.Net;

namespace WebhookConnect.TestKit.Services;

/// <summary>The connector binary as a child process, with its management port on a free loopback port.</summary>
public sealed class ConnectorProcess : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private ConnectorProcess(ChildProcess process, int managementPort, string directory)
    {
        Process = process;
        ManagementPort = managementPort;
        Directory = directory;
    }

    public ChildProcess Process { get; }

    public int ManagementPort { get; }

    /// <summary>A temporary directory for this connector's files (config, tokens), removed on dispose.</summary>
    public string Directory { get; }

    public static string Assembly => ServiceBinaries.Assembly("Connector", "WebhookConnect.Connector");

    /// <summary>Runs the binary to completion (for --help, --check and configuration errors).</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null)
    {
        await using var process = ChildProcess.Start("connector", "dotnet", [Assembly, .. args], Isolated(env));
        var code = await process.WaitForExitAsync(QueueManagerProcess.Patience);
        return (code, process.Output);
    }

    /// <summary>Starts a connector with <paramref name="configYaml"/> as its config file (in a fresh directory, where
    /// <paramref name="files"/> are written too) plus <paramref name="args"/>; does not wait for readiness.</summary>
    public static ConnectorProcess Start(int queueManagerPort, string configYaml, IEnumerable<string>? args = null,
        IReadOnlyDictionary<string, string>? files = null, IReadOnlyDictionary<string, string?>? env = null) =>
        Start(["--queue-manager", $"http://127.0.0.1:{queueManagerPort.ToString(CultureInfo.InvariantCulture)}", "--insecure", .. args ?? []], configYaml, files, env);

    /// <summary>Like <see cref="Start(int, string, IEnumerable{string}?, IReadOnlyDictionary{string, string}?, IReadOnlyDictionary{string, string?}?)"/>
    /// but the queue-manager address and TLS flags are the caller's (<paramref name="args"/>).</summary>
    public static ConnectorProcess StartWithoutQueueManagerFlags(string configYaml, IEnumerable<string> args, IReadOnlyDictionary<string, string>? files = null,
        IReadOnlyDictionary<string, string?>? env = null) =>
        Start(args, configYaml, files, env);

    private static ConnectorProcess Start(IEnumerable<string> args, string configYaml, IReadOnlyDictionary<string, string>? files, IReadOnlyDictionary<string, string?>? env)
    {
        var directory = Path.Combine(Path.GetTempPath(), "wc-connector-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        foreach (var (name, content) in files ?? new Dictionary<string, string>())
        {
            File.WriteAllText(Path.Combine(directory, name), content);
        }

        var config = Path.Combine(directory, "connector.yaml");
        File.WriteAllText(config, configYaml.Replace("{dir}", directory, StringComparison.Ordinal));
        var managementPort = FreePort.Next();
        var arguments = new List<string>
        {
            Assembly, "--config", config,
            "--management-host", "127.0.0.1", "--management-port", managementPort.ToString(CultureInfo.InvariantCulture),
        };
        arguments.AddRange(args);
        var process = ChildProcess.Start("connector", "dotnet", arguments, Isolated(env), workingDirectory: directory);
        return new ConnectorProcess(process, managementPort, directory);
    }

    /// <summary>Starts a connector and waits until /readyz says every stream is subscribed.</summary>
    public static async Task<ConnectorProcess> StartReadyAsync(int queueManagerPort, string configYaml, IEnumerable<string>? args = null,
        IReadOnlyDictionary<string, string>? files = null, IReadOnlyDictionary<string, string?>? env = null)
    {
        var connector = Start(queueManagerPort, configYaml, args, files, env);
        try
        {
            await connector.WaitReadyAsync();
        }
        catch
        {
            await connector.DisposeAsync();
            throw;
        }

        return connector;
    }

    public async Task WaitReadyAsync(TimeSpan? timeout = null) =>
        await Process.UntilAsync(async () => await ReadyStatusAsync() == HttpStatusCode.OK, timeout ?? QueueManagerProcess.Patience, "the connector's /readyz to answer 200");

    /// <summary>The /readyz status; throws when the process has exited (with its output).</summary>
    public async Task<HttpStatusCode?> ReadyStatusAsync()
    {
        if (Process.HasExited)
        {
            throw new InvalidOperationException($"the connector exited with {Process.ExitCode}:\n{Process.Output}");
        }

        try
        {
            using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{ManagementPort}/readyz"));
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>The /metrics text; empty while the management port is not listening yet.</summary>
    public async Task<string> MetricsAsync()
    {
        try
        {
            return await Http.GetStringAsync(new Uri($"http://127.0.0.1:{ManagementPort}/metrics"));
        }
        catch (HttpRequestException)
        {
            return "";
        }
    }

    public void WriteFile(string name, string content) => File.WriteAllText(Path.Combine(Directory, name), content);

    /// <summary>Environment for a child: the test's own, without CONNECTOR_* variables that could leak in.</summary>
    private static Dictionary<string, string?> Isolated(IReadOnlyDictionary<string, string?>? env)
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && name.StartsWith("CONNECTOR", StringComparison.OrdinalIgnoreCase))
            {
                result[name] = null;
            }
        }

        foreach (var (name, value) in env ?? new Dictionary<string, string?>())
        {
            result[name] = value;
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace WebhookConnect.TestKit.Services;

/// <summary>The ingress binary as a child process on free loopback ports, with an HttpClient for webhooks.</summary>
public sealed partial class IngressProcess : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private IngressProcess(ChildProcess process, int port, int managementPort, string spoolPath, TestPki? tls)
    {
        Process = process;
        Port = port;
        ManagementPort = managementPort;
        SpoolPath = spoolPath;
        Http = new HttpClient(tls?.Handler() ?? new SocketsHttpHandler(), disposeHandler: true)
        {
            BaseAddress = new Uri($"{(tls is null ? "http" : "https")}://127.0.0.1:{port}"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        Management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public ChildProcess Process { get; }

    public int Port { get; }

    public int ManagementPort { get; }

    public string SpoolPath { get; }

    /// <summary>A client for the webhook port (HTTP/1.1 by default).</summary>
    public HttpClient Http { get; }

    public HttpClient Management { get; }

    public static string Assembly => ServiceBinaries.Assembly("Ingress", "WebhookConnect.Ingress");

    /// <summary>Starts ingress against a queue-manager and waits for <c>/readyz</c> (the first endpoint table) when
    /// <paramref name="waitReady"/>; otherwise only for <c>/healthz</c>. With <paramref name="tls"/>, the webhook port
    /// serves TLS with a certificate that CA issues, ingress reaches the queue-manager over <c>https://</c> trusting
    /// that CA (its internal port must serve TLS too), and <see cref="Http"/> trusts it. <paramref name="env"/>: runtime
    /// environment variables, e.g. <c>DOTNET_GCHeapHardLimit</c>.</summary>
    public static async Task<IngressProcess> StartAsync(
        int queueManagerPort, string spoolPath, IReadOnlyDictionary<string, string>? extra = null, bool waitReady = true, int? port = null,
        TestPki? tls = null, IReadOnlyDictionary<string, string?>? env = null)
    {
        var webhookPort = port ?? FreePort.Next();
        var managementPort = FreePort.Next();
        var settings = new Dictionary<string, string>
        {
            ["Ingress:Host"] = "127.0.0.1",
            ["Ingress:Port"] = webhookPort.ToString(CultureInfo.InvariantCulture),
            ["Ingress:QueueManager"] = $"http://127.0.0.1:{queueManagerPort}",
            ["Ingress:SpoolPath"] = spoolPath,
            ["Ingress:SpoolReplayInitialDelay"] = "00:00:00.1",
            ["Ingress:SpoolReplayMaxDelay"] = "00:00:01",
            ["Ingress:PublishTimeout"] = "00:00:03",
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = managementPort.ToString(CultureInfo.InvariantCulture),
        };
        if (tls is not null)
        {
            var certificate = tls.IssueServer("ingress-" + webhookPort.ToString(CultureInfo.InvariantCulture));
            settings["Ingress:Tls:CertificateFile"] = certificate.CertificateFile;
            settings["Ingress:Tls:KeyFile"] = certificate.KeyFile;
            settings["Ingress:QueueManager"] = $"https://127.0.0.1:{queueManagerPort}";
            settings["Ingress:QueueManagerCaFile"] = tls.CaFile;
        }

        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var process = ServiceBinaries.Start("ingress-" + webhookPort.ToString(CultureInfo.InvariantCulture), Assembly, settings, env);
        var ingress = new IngressProcess(process, webhookPort, managementPort, spoolPath, tls);
        try
        {
            await ingress.WaitAsync(waitReady ? "/readyz" : "/healthz");
        }
        catch
        {
            await ingress.DisposeAsync();
            throw;
        }

        return ingress;
    }

    public async Task WaitAsync(string path) =>
        await Process.UntilAsync(
            async () =>
            {
                try
                {
                    return (await Management.GetAsync(new Uri(path, UriKind.Relative))).StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            Patience,
            $"ingress {path} to answer 200");

    public async Task<string> MetricsAsync() => await Management.GetStringAsync(new Uri("/metrics", UriKind.Relative));

    /// <summary>The value of one Prometheus sample whose name and labels contain all of <paramref name="labels"/>;
    /// null when there is none.</summary>
    public async Task<double?> MetricAsync(string name, params string[] labels)
    {
        foreach (var line in (await MetricsAsync()).Split('\n'))
        {
            var match = Sample().Match(line);
            if (match.Success && match.Groups["name"].Value == name && labels.All(label => match.Groups["labels"].Value.Contains(label, StringComparison.Ordinal)))
            {
                return double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>Waits until this ingress routes with at least <paramref name="revision"/> of the endpoint table.</summary>
    public Task WaitForRevisionAsync(ulong revision) =>
        Eventually.UntilAsync(
            async () => await MetricAsync("webhookconnect_ingress_endpoint_table_revision") >= revision,
            Patience,
            $"ingress to route with endpoint table revision {revision}");

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Management.Dispose();
        await Process.DisposeAsync();
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?<labels>\{[^}]*\})?\s+(?<value>\S+)")]
    private static partial Regex Sample();
}

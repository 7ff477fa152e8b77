using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using WebhookConnect.AppHost;
using WebhookConnect.TestKit;

namespace WebhookConnect.AppHost.Tests.Support;

/// <summary>
/// The AppHost started as <c>scripts/run.sh</c> starts it (<c>dotnet WebhookConnect.AppHost.dll --data DIR --fresh</c>),
/// every port on a free one through the environment variables <c>run.sh --help</c> lists, and an API key for the
/// dashboard's telemetry API. Disposing kills what is left (a failed test) and deletes the data directory.
/// </summary>
public sealed class LocalStack : IAsyncDisposable
{
    public const string AdminToken = "apphost_test_token_0123456789abcdef";

    private LocalStack(ChildProcess process, string data, Dictionary<string, int> ports, string dashboardApiKey)
    {
        Process = process;
        DataDirectory = data;
        Ports = ports;
        DashboardApiKey = dashboardApiKey;
    }

    public static TimeSpan StartPatience { get; } = TimeSpan.FromMinutes(3);

    public ChildProcess Process { get; }

    public string DataDirectory { get; }

    public IReadOnlyDictionary<string, int> Ports { get; }

    public string DashboardApiKey { get; }

    public Uri Url(string portVariable, string path) => new($"http://127.0.0.1:{Ports[portVariable].ToString(CultureInfo.InvariantCulture)}{path}");

    public static LocalStack Start()
    {
        var perl = Prerequisites.RequireExecutable("perl", "sudo apt-get install -y perl-base");
        Prerequisites.RequireExecutable("redis-server", "sudo apt-get install -y redis-server");
        var data = Directory.CreateTempSubdirectory("wc-apphost-test-").FullName;
        var ports = StackSettings.PortSettings.ToDictionary(p => p.Variable, _ => FreePort.Next());
        var env = ports.ToDictionary(p => p.Key, p => (string?)p.Value.ToString(CultureInfo.InvariantCulture));
        env["ADMIN_TOKEN"] = AdminToken;
        env["NO_COLOR"] = "1";
        var apiKey = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        env["AppHost__DashboardApiKey"] = apiKey;
        var appHost = Path.Combine(RepoPaths.Root, "hosting", "WebhookConnect.AppHost", "bin", ServiceBinaries.Configuration, "net10.0", "WebhookConnect.AppHost.dll");
        if (!File.Exists(appHost))
        {
            throw new InvalidOperationException($"{appHost} is missing; build it with: dotnet build -c {ServiceBinaries.Configuration} hosting/WebhookConnect.AppHost");
        }

        // A terminal's Ctrl-C sends SIGINT, which a shell running tests in the background may have set to "ignore"
        // for its children; perl restores the default so the AppHost sees SIGINT as a terminal user's would.
        var process = ChildProcess.Start("apphost", perl, ["-e", "$SIG{INT} = 'DEFAULT'; exec @ARGV or die $!", "dotnet", appHost, "--data", data, "--fresh"], env, RepoPaths.Root);
        return new LocalStack(process, data, ports, apiKey);
    }

    /// <summary>Waits for the "try this" screen, which the AppHost prints once every resource is ready.</summary>
    public Task WaitUntilReadyAsync() =>
        Process.WaitForLineAsync(line => line.Contains("Ctrl-C stops everything", StringComparison.Ordinal), StartPatience);

    public async Task<JsonElement> AdminGetAsync(HttpClient http, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url("ADMIN_HTTP_PORT", path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode ? JsonDocument.Parse(text).RootElement.Clone() : throw new HttpRequestException($"GET {path}: {(int)response.StatusCode} {text}");
    }

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        Directory.Delete(DataDirectory, recursive: true);
    }
}

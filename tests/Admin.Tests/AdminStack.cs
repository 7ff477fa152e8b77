using System.Globalization;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using WebhookConnect.TestKit;
using AdminClient = WebhookConnect.Contracts.Admin.V1.AdminService.AdminServiceClient;

namespace WebhookConnect.Admin.Tests;

/// <summary>redis-server, a queue-manager and the admin service as processes, on free loopback ports.</summary>
public sealed class AdminStack : IAsyncLifetime
{
    public const string Token = "admin-token-for-tests-0123456789abcdef";
    public const string ReadOnlyToken = "read-only-token-for-tests-0123456789";
    public const string ContentsToken = "contents-token-for-tests-0123456789ab";
    public const string InternalToken = "internal-token-for-tests-0123456789";

    public RedisServer Redis { get; private set; } = null!;

    public QueueManagerProcess QueueManager { get; private set; } = null!;

    public ChildProcess Admin { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    /// <summary>The JSON twin's base address.</summary>
    public Uri Http { get; private set; } = null!;

    public AdminClient Client => new(Channel);

    /// <summary>The admin service's audit file (<c>Admin:AuditFile</c>).</summary>
    public string AuditFile { get; } = Path.Combine(Directory.CreateTempSubdirectory("wc-admin-audit-").FullName, "audit.jsonl");

    public static Metadata Bearer(string token) => new() { { "authorization", "Bearer " + token } };

    public async ValueTask InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        QueueManager = await QueueManagerProcess.StartAsync(Redis.Endpoint, new Dictionary<string, string> { ["QueueManager:InternalToken"] = InternalToken });
        (Admin, Channel, Http) = await StartAdminAsync("admin", new Dictionary<string, string>
        {
            ["Admin:Tokens"] = Token,
            ["Admin:ReadOnlyTokens"] = ReadOnlyToken,
            ["Admin:ContentsTokens"] = ContentsToken,
            ["Admin:AuditFile"] = AuditFile,
            // The shared admin reaches queue-manager with the internal token from a mounted file, as in production;
            // StartAdminAsync's default (the setting itself) covers the other way.
            ["Admin:QueueManagerTokenFile"] = InternalTokenFile(),
        });
    }

    private static string InternalTokenFile()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("wc-admin-internal-").FullName, "internal-token");
        File.WriteAllText(path, InternalToken + "\n");
        return path;
    }

    /// <summary>
    /// Starts an admin service on this stack's queue-manager with <paramref name="settings"/> (the tokens among them)
    /// and waits until its gRPC health answers SERVING: the process, a gRPC channel to it and its JSON twin's address.
    /// </summary>
    public async Task<(ChildProcess Process, GrpcChannel Channel, Uri Http)> StartAdminAsync(string name, IReadOnlyDictionary<string, string> settings)
    {
        var grpcPort = FreePort.Next();
        var httpPort = FreePort.Next();
        var all = new Dictionary<string, string>
        {
            ["Admin:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["Admin:QueueManager"] = QueueManager.InternalAddress,
            ["Admin:QueueManagerToken"] = settings.ContainsKey("Admin:QueueManagerTokenFile") ? "not-the-internal-token" : InternalToken,
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var process = ServiceBinaries.Start(name, AdminAssembly, Settings(grpcPort, all));
        var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        await process.UntilAsync(
            async () =>
            {
                try
                {
                    return (await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest())).Status == HealthCheckResponse.Types.ServingStatus.Serving;
                }
                catch (RpcException)
                {
                    return false;
                }
            },
            QueueManagerProcess.Patience,
            "the admin service's gRPC health to answer SERVING");
        return (process, channel, new Uri($"http://127.0.0.1:{httpPort}"));
    }

    public static string AdminAssembly => ServiceBinaries.Assembly("Admin", "WebhookConnect.Admin");

    public static Dictionary<string, string> Settings(int grpcPort, IReadOnlyDictionary<string, string> extra)
    {
        var settings = new Dictionary<string, string>
        {
            ["Admin:Host"] = "127.0.0.1",
            ["Admin:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["Admin:HttpPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    public async ValueTask DisposeAsync()
    {
        Channel?.Dispose();
        if (Admin is not null)
        {
            await Admin.DisposeAsync();
        }

        if (QueueManager is not null)
        {
            await QueueManager.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }

        Directory.Delete(Path.GetDirectoryName(AuditFile)!, recursive: true);
    }

    /// <summary>An HTTP client for the JSON twin, with <paramref name="token"/> as its bearer token when given.</summary>
    public HttpClient JsonClient(string? token)
    {
        var http = new HttpClient { BaseAddress = Http, Timeout = QueueManagerProcess.Patience };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }

    /// <summary>Sends <paramref name="json"/> (when given) to the JSON twin with <paramref name="method"/>.</summary>
    public static async Task<HttpResponseMessage> SendJsonAsync(HttpClient http, HttpMethod method, string path, string? json)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (json is not null)
        {
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }

        return await http.SendAsync(request);
    }
}

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
    public const string InternalToken = "internal-token-for-tests-0123456789";

    public RedisServer Redis { get; private set; } = null!;

    public QueueManagerProcess QueueManager { get; private set; } = null!;

    public ChildProcess Admin { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    /// <summary>The JSON twin's base address.</summary>
    public Uri Http { get; private set; } = null!;

    public AdminClient Client => new(Channel);

    public static Metadata Bearer(string token) => new() { { "authorization", "Bearer " + token } };

    public async ValueTask InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        QueueManager = await QueueManagerProcess.StartAsync(Redis.Endpoint, new Dictionary<string, string> { ["QueueManager:InternalToken"] = InternalToken });
        var grpcPort = FreePort.Next();
        var httpPort = FreePort.Next();
        Http = new Uri($"http://127.0.0.1:{httpPort}");
        Admin = ServiceBinaries.Start("admin", AdminAssembly, Settings(grpcPort, new Dictionary<string, string>
        {
            ["Admin:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["Admin:Tokens"] = Token,
            ["Admin:ReadOnlyTokens"] = ReadOnlyToken,
            ["Admin:QueueManager"] = QueueManager.InternalAddress,
            ["Admin:QueueManagerToken"] = InternalToken,
        }));
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        await Admin.UntilAsync(
            async () =>
            {
                try
                {
                    return (await new Health.HealthClient(Channel).CheckAsync(new HealthCheckRequest())).Status == HealthCheckResponse.Types.ServingStatus.Serving;
                }
                catch (RpcException)
                {
                    return false;
                }
            },
            QueueManagerProcess.Patience,
            "the admin service's gRPC health to answer SERVING");
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

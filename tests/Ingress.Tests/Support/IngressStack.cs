using System.Net.Http.Headers;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Ingress.Tests.Support;

/// <summary>
/// redis-server, a queue-manager (with an internal token) and ingress (sending that token) as processes on free
/// loopback ports. Channels and endpoints are created through the queue-manager's internal admin API, and each
/// change is awaited until ingress routes with it.
/// </summary>
public sealed class IngressStack : IAsyncLifetime
{
    public const string InternalToken = "internal-token-for-ingress-tests-0123456789";

    private static int _counter;

    /// <summary>Whether Redis keeps an append-only file (fault tests restart it and expect the data back).</summary>
    public bool AppendOnly { get; init; }

    /// <summary>Extra ingress settings.</summary>
    public IReadOnlyDictionary<string, string> IngressSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>Environment variables of the ingress process (runtime settings such as <c>DOTNET_GCHeapHardLimit</c>).</summary>
    public IReadOnlyDictionary<string, string?>? IngressEnvironment { get; init; }

    public RedisServer Redis { get; private set; } = null!;

    public QueueManagerProcess QueueManager { get; private set; } = null!;

    public IngressProcess Ingress { get; private set; } = null!;

    public string SpoolPath { get; } = Directory.CreateTempSubdirectory("wc-spool-").FullName;

    public static Metadata Bearer => new() { { "authorization", "Bearer " + InternalToken } };

    public QueueAdminService.QueueAdminServiceClient Admin => new(QueueManager.Internal.Channel);

    public PublishService.PublishServiceClient Publish => new(QueueManager.Internal.Channel);

    public static string UniqueName(string prefix) =>
        $"{prefix}-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid().ToString("N")[..6]}";

    public async ValueTask InitializeAsync()
    {
        Redis = await RedisServer.StartAsync(AppendOnly);
        QueueManager = await QueueManagerProcess.StartAsync(Redis.Endpoint, new Dictionary<string, string> { ["QueueManager:InternalToken"] = InternalToken });
        Ingress = await StartIngressAsync();
    }

    public async Task<IngressProcess> StartIngressAsync(bool waitReady = true, int? port = null)
    {
        var settings = new Dictionary<string, string>(IngressSettings) { ["Ingress:QueueManagerToken"] = InternalToken };
        return await IngressProcess.StartAsync(QueueManager.InternalPort, SpoolPath, settings, waitReady, port, env: IngressEnvironment);
    }

    /// <summary>Kills ingress the hard way (SIGKILL), as a crash would, and waits until it is gone.</summary>
    public async Task KillIngressAsync()
    {
        Ingress.Process.Signal(ChildProcess.SigKill);
        await Ingress.Process.WaitForExitAsync(IngressProcess.Patience);
    }

    /// <summary>Replaces the running ingress (after a kill) with a new process on the same spool.</summary>
    public async Task RestartIngressAsync()
    {
        await Ingress.DisposeAsync();
        Ingress = await StartIngressAsync();
    }

    /// <summary>Creates a channel with the given endpoints and waits until ingress routes them.</summary>
    public async Task CreateChannelAsync(string channel, ChannelSettings? settings, params EndpointConfig[] endpoints)
    {
        var request = new CreateChannelRequest { Channel = channel, Settings = settings ?? new ChannelSettings() };
        request.Endpoints.AddRange(endpoints);
        await Admin.CreateChannelAsync(request, Bearer);
        await SyncAsync();
    }

    /// <summary>Waits until ingress has the queue-manager's current endpoint table.</summary>
    public async Task SyncAsync()
    {
        var revision = (await Publish.ListEndpointsAsync(new ListEndpointsRequest(), Bearer)).Revision;
        await Ingress.WaitForRevisionAsync(revision);
    }

    /// <summary>A channel with one endpoint named like it and no verification; returns the name.</summary>
    public async Task<string> NewChannelAsync(string prefix, ChannelSettings? settings = null, Action<EndpointConfig>? endpoint = null)
    {
        var name = UniqueName(prefix);
        var config = new EndpointConfig { Id = name, Verification = TestChannels.Unverified };
        endpoint?.Invoke(config);
        await CreateChannelAsync(name, settings, config);
        return name;
    }

    public async Task<ChannelStats> StatsAsync(string channel) =>
        (await Admin.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel }, Bearer)).Stats;

    public async Task<IReadOnlyList<Message>> PeekAsync(string channel, uint limit = 100) =>
        [.. (await Admin.PeekMessagesAsync(new PeekMessagesRequest { Channel = channel, Limit = limit, IncludeBody = true }, Bearer)).Messages.Select(m => m.Message)];

    /// <summary>POSTs a body to a path of the ingress webhook port.</summary>
    public Task<HttpResponseMessage> PostAsync(string path, byte[] body, IEnumerable<KeyValuePair<string, string>>? headers = null, string contentType = "application/json") =>
        PostAsync(Ingress.Http, path, body, headers, contentType);

    public static async Task<HttpResponseMessage> PostAsync(HttpClient http, string path, byte[] body, IEnumerable<KeyValuePair<string, string>>? headers = null, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await http.SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        if (Ingress is not null)
        {
            await Ingress.DisposeAsync();
        }

        if (QueueManager is not null)
        {
            await QueueManager.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }

        try
        {
            Directory.Delete(SpoolPath, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

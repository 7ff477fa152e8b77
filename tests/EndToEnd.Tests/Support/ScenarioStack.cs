using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.EndToEnd.Tests.Support;

/// <summary>
/// One scenario's cloud side, as separate processes on free loopback ports: an empty redis-server, queue-manager,
/// admin (token <c>admin_secret_for_scenarios_0123456789</c>; SCENARIOS.md's <c>admin_secret_123</c> is shorter than
/// the 32 characters admin requires) and ingress. Connectors and targets are started by the scenario. Disposing stops
/// everything it started.
/// </summary>
public sealed class ScenarioStack : IAsyncDisposable
{
    public const string AdminToken = "admin_secret_for_scenarios_0123456789";
    public static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    private readonly List<IAsyncDisposable> _started = [];

    private ScenarioStack(string directory, IReadOnlyDictionary<string, string> serviceSettings)
    {
        Directory = directory;
        _serviceSettings = serviceSettings;
    }

    /// <summary>Settings every cloud-side service gets (e.g. the <c>OTEL_*</c> keys of a trace scenario).</summary>
    private readonly IReadOnlyDictionary<string, string> _serviceSettings;

    public string Directory { get; }

    public RedisServer Redis { get; private set; } = null!;

    /// <summary>The first (or only) queue-manager replica.</summary>
    public QueueManagerProcess QueueManager => QueueManagers[0];

    /// <summary>Every queue-manager replica, in start order.</summary>
    public IReadOnlyList<QueueManagerProcess> QueueManagers { get; private set; } = [];

    /// <summary>With several replicas: the forwarder in front of them (as a Kubernetes Service is), which sends each
    /// new connection to the first live replica. Null with one replica.</summary>
    public TcpForwarder? Forwarder { get; private set; }

    /// <summary>With several replicas: the forwarder in front of their internal ports (Publish, internal admin).</summary>
    public TcpForwarder? InternalForwarder { get; private set; }

    /// <summary>The public port connectors dial for the queue-manager: the forwarder's, or the only replica's.</summary>
    public int QueueManagerPort => Forwarder?.Port ?? QueueManager.GrpcPort;

    /// <summary>The internal port ingress and admin dial: the internal forwarder's, or the only replica's.</summary>
    public int QueueManagerInternalPort => InternalForwarder?.Port ?? QueueManager.InternalPort;

    /// <summary>True when ingress, admin and connectors balance over the replicas themselves (<c>static:///</c>
    /// addresses listing every replica, as <c>dns:///</c> does with a headless Service) instead of a forwarder.</summary>
    public bool ClientBalancing { get; private set; }

    /// <summary>The address connectors dial.</summary>
    public string QueueManagerAddress => ClientBalancing
        ? "static:///" + string.Join(",", QueueManagers.Select(r => $"127.0.0.1:{Text(r.GrpcPort)}"))
        : $"{Scheme}://127.0.0.1:{Text(QueueManagerPort)}";

    /// <summary>The address ingress and admin dial.</summary>
    public string QueueManagerInternalAddress => ClientBalancing
        ? "static:///" + string.Join(",", QueueManagers.Select(r => $"127.0.0.1:{Text(r.InternalPort)}"))
        : $"{Scheme}://127.0.0.1:{Text(QueueManagerInternalPort)}";

    /// <summary>With TLS on every listener: the CA that issued every certificate of the stack. Null: plaintext.</summary>
    public TestPki? Tls { get; private set; }

    private string Scheme => Tls is null ? "http" : "https";

    public ChildProcess Admin { get; private set; } = null!;

    public GrpcChannel AdminChannel { get; private set; } = null!;

    /// <summary>Admin's gRPC port (AdminService, reflection, health).</summary>
    public int AdminGrpcPort { get; private set; }

    /// <summary>The admin HTTP/JSON twin's base address.</summary>
    public Uri AdminHttp { get; private set; } = null!;

    public IngressProcess Ingress { get; private set; } = null!;

    public AdminService.AdminServiceClient AdminClient => new(AdminChannel);

    public static Metadata AdminHeaders => new() { { "authorization", "Bearer " + AdminToken } };

    /// <summary>Starts the cloud side. With <paramref name="tls"/>, every listener but the management ports serves TLS
    /// with a certificate that CA issues, and every client (ingress and admin to queue-manager, connectors, this
    /// stack's own clients) trusts that CA through its CA-file setting. <paramref name="serviceSettings"/> are given
    /// to queue-manager, admin and ingress as configuration (connectors take theirs in <see cref="StartConnectorAsync"/>).</summary>
    public static async Task<ScenarioStack> StartAsync(bool redisAppendOnly = false, int queueManagerReplicas = 1, bool clientBalancing = false, TestPki? tls = null,
        IReadOnlyDictionary<string, string>? serviceSettings = null)
    {
        var stack = new ScenarioStack(System.IO.Directory.CreateTempSubdirectory("wc-e2e-").FullName, serviceSettings ?? new Dictionary<string, string>())
        {
            ClientBalancing = clientBalancing,
            Tls = tls,
        };
        try
        {
            stack.Redis = stack.Track(await RedisServer.StartAsync(redisAppendOnly));
            var replicas = new List<QueueManagerProcess>();
            for (var i = 0; i < queueManagerReplicas; i++)
            {
                replicas.Add(stack.Track(await QueueManagerProcess.StartAsync(stack.Redis.Endpoint, stack._serviceSettings, replicaId: $"qm-{(char)('a' + i)}", tls: tls)));
            }

            stack.QueueManagers = replicas;
            if (queueManagerReplicas > 1 && !clientBalancing)
            {
                stack.Forwarder = stack.Track(TcpForwarder.Start([.. replicas.Select(r => r.GrpcPort)]));
                stack.InternalForwarder = stack.Track(TcpForwarder.Start([.. replicas.Select(r => r.InternalPort)]));
            }

            await stack.StartAdminAsync();
            stack.Ingress = stack.Track(await IngressProcess.StartAsync(stack.QueueManagerInternalPort, Path.Combine(stack.Directory, "spool"), stack.IngressSettings, tls: tls));
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    private async Task StartAdminAsync()
    {
        var grpcPort = FreePort.Next();
        AdminGrpcPort = grpcPort;
        var httpPort = FreePort.Next();
        AdminHttp = new Uri($"{Scheme}://127.0.0.1:{Text(httpPort)}");
        var settings = new Dictionary<string, string>
        {
            ["Admin:Host"] = "127.0.0.1",
            ["Admin:GrpcPort"] = Text(grpcPort),
            ["Admin:HttpPort"] = Text(httpPort),
            ["Admin:Tokens"] = AdminToken,
            ["Admin:QueueManager"] = QueueManagerInternalAddress,
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = Text(FreePort.Next()),
        };
        if (Tls is not null)
        {
            var certificate = Tls.IssueServer("admin");
            settings["Admin:Tls:CertificateFile"] = certificate.CertificateFile;
            settings["Admin:Tls:KeyFile"] = certificate.KeyFile;
            settings["Admin:QueueManagerCaFile"] = Tls.CaFile;
        }

        foreach (var (key, value) in _serviceSettings)
        {
            settings[key] = value;
        }

        Admin = Track(ServiceBinaries.Start("admin", ServiceBinaries.Assembly("Admin", "WebhookConnect.Admin"), settings));
        AdminChannel = GrpcChannel.ForAddress($"{Scheme}://127.0.0.1:{Text(grpcPort)}", new GrpcChannelOptions { HttpHandler = Tls?.Handler(), DisposeHttpClient = true });
        await Admin.UntilAsync(
            async () =>
            {
                try
                {
                    return (await new Health.HealthClient(AdminChannel).CheckAsync(new HealthCheckRequest())).Status == HealthCheckResponse.Types.ServingStatus.Serving;
                }
                catch (RpcException)
                {
                    return false;
                }
            },
            Patience,
            "admin's gRPC health to answer SERVING");
    }

    /// <summary>
    /// Creates a channel through admin (as an operator would) and waits until ingress routes its endpoints.
    /// Returns the connector token.
    /// </summary>
    public async Task<string> CreateChannelAsync(string name, string[] endpoints, ChannelSettings? settings = null)
    {
        var request = new CreateChannelRequest { Channel = name, Settings = settings };
        request.Endpoints.AddRange(endpoints.Select(id => new EndpointConfig { Id = id, Verification = TestChannels.Unverified }));
        var created = await AdminClient.CreateChannelAsync(request, AdminHeaders);
        await WaitForIngressRoutesAsync();
        return created.Token;
    }

    /// <summary>Waits until ingress routes with the queue-manager's current endpoint table.</summary>
    public async Task WaitForIngressRoutesAsync()
    {
        var table = await new PublishService.PublishServiceClient(QueueManager.Internal.Channel).ListEndpointsAsync(new ListEndpointsRequest());
        await Ingress.WaitForRevisionAsync(table.Revision);
    }

    public async Task<ChannelStats> StatsAsync(string channel) =>
        (await AdminClient.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel }, AdminHeaders)).Stats;

    /// <summary>Waits until the channel's stats satisfy <paramref name="condition"/>; returns them. With
    /// <paramref name="whileRecovering"/>, a call failing because the queue-manager or Redis behind admin is still
    /// coming back (UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED) counts as "not yet" instead of failing the test.</summary>
    public async Task<ChannelStats> WaitForStatsAsync(string channel, Func<ChannelStats, bool> condition, string what, bool whileRecovering = false)
    {
        ChannelStats? stats = null;
        await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    return condition(stats = await StatsAsync(channel));
                }
                catch (RpcException ex) when (whileRecovering && ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.DeadlineExceeded)
                {
                    return false;
                }
            },
            Patience,
            $"{channel}: {what} (last: {stats})");
        return stats!;
    }

    /// <summary>The scenario body of webhook <paramref name="sequence"/> of <paramref name="total"/> (SCENARIOS.md).</summary>
    public static byte[] WebhookBody(int sequence, int total) =>
        Encoding.UTF8.GetBytes($$$"""{"event":"test_event","sequence":{{{sequence}}},"data":{"message":"Test webhook {{{sequence}}} of {{{total}}}"}}""");

    /// <summary>POSTs a webhook to ingress with a per-request header <c>X-Scenario-Sequence</c>.</summary>
    public async Task<WebhookReply> PostWebhookAsync(string endpoint, int sequence, int total, IReadOnlyDictionary<string, string>? headers = null)
    {
        var body = WebhookBody(sequence, total);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/webhook/{endpoint}", UriKind.Relative))
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-Scenario-Sequence", Text(sequence));
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.Add(name, value);
        }

        using var response = await Ingress.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.StartsWith('{') ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return new WebhookReply(
            response.StatusCode,
            json,
            response.Headers.TryGetValues("X-Webhook-Message-Id", out var ids) ? ids.Single() : null,
            response.Headers.RetryAfter?.Delta,
            body);
    }

    /// <summary>Starts a connector for one channel (token in a file) with a default target and optional per-endpoint targets, ready.
    /// <paramref name="env"/> adds environment variables (the connector's configuration layer for <c>OTEL_*</c>).</summary>
    public async Task<ConnectorProcess> StartConnectorAsync(string channel, string token, TargetServer? defaultTarget, IReadOnlyDictionary<string, TargetServer>? targets = null, string extraYaml = "",
        IReadOnlyDictionary<string, string?>? env = null)
    {
        var yaml = new StringBuilder();
        yaml.AppendLine("subscriptions:");
        yaml.AppendLine(CultureInfo.InvariantCulture, $"  - channel: {channel}");
        yaml.AppendLine("    token_file: {dir}/token");
        if (defaultTarget is not null)
        {
            yaml.AppendLine(CultureInfo.InvariantCulture, $"    default_target: {{ url: \"{defaultTarget.Url()}\" }}");
        }

        if (targets is { Count: > 0 })
        {
            yaml.AppendLine("    targets:");
            foreach (var (endpoint, target) in targets)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"      {endpoint}: {{ url: \"{target.Url()}\" }}");
            }
        }

        yaml.Append(extraYaml);
        var connector = Track(ConnectorProcess.StartWithoutQueueManagerFlags(
            yaml.ToString(), Tls is null ? ["--queue-manager", QueueManagerAddress, "--insecure"] : ["--queue-manager", QueueManagerAddress, "--ca-file", Tls.CaFile],
            new Dictionary<string, string> { ["token"] = token },
            env));
        await connector.WaitReadyAsync();
        return connector;
    }

    public async Task<TargetServer> StartTargetAsync() => Track(await TargetServer.StartAsync());

    /// <summary>Kills ingress with SIGKILL (no drain, nothing flushed) and waits until it is gone.</summary>
    public async Task KillIngressAsync()
    {
        Ingress.Process.Signal(ChildProcess.SigKill);
        await Ingress.Process.WaitForExitAsync(Patience);
        await Ingress.DisposeAsync();
        _started.Remove(Ingress);
    }

    /// <summary>Starts ingress again on the same port with the same spool; waits for /healthz only, since the
    /// queue-manager may still be unreachable.</summary>
    public async Task RestartIngressAsync()
    {
        var port = Ingress.Port;
        Ingress = Track(await IngressProcess.StartAsync(QueueManagerInternalPort, Ingress.SpoolPath, IngressSettings, waitReady: false, port: port, tls: Tls));
    }

    private Dictionary<string, string> IngressSettings => new(_serviceSettings) { ["Ingress:QueueManager"] = QueueManagerInternalAddress };

    private T Track<T>(T started)
        where T : IAsyncDisposable
    {
        _started.Add(started);
        return started;
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        AdminChannel?.Dispose();
        for (var i = _started.Count - 1; i >= 0; i--)
        {
            await _started[i].DisposeAsync();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>What ingress answered to one webhook, and the body that was sent.</summary>
public sealed record WebhookReply(HttpStatusCode Status, JsonElement Json, string? MessageIdHeader, TimeSpan? RetryAfter, byte[] SentBody)
{
    public string MessageId => Json.GetProperty("message_id").GetString()!;
}

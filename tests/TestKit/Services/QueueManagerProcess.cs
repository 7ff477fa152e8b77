using System.Globalization;
using Grpc.Health.V1;
using Grpc.Net.Client;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace WebhookConnect.TestKit.Services;

/// <summary>
/// The queue-manager binary as a child process on free loopback ports, with a gRPC channel to each listener:
/// <see cref="Channel"/> to the public port (Connect), <see cref="Internal"/> to the internal port (Publish and the
/// internal admin API). Unless the test sets <c>QueueManager:InternalToken</c>, the internal port runs without a
/// token on loopback (<c>QueueManager:AllowInternalWithoutToken</c>, the development setting).
/// </summary>
public sealed class QueueManagerProcess : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private QueueManagerProcess(ChildProcess process, int grpcPort, int internalPort, int httpPort, int managementPort, string replicaId, TestPki? tls, IssuedCertificate? certificate)
    {
        Process = process;
        GrpcPort = grpcPort;
        HttpPort = httpPort;
        InternalPort = internalPort;
        ManagementPort = managementPort;
        ReplicaId = replicaId;
        Certificate = certificate;
        Scheme = tls is null ? "http" : "https";
        Channel = GrpcChannel.ForAddress($"{Scheme}://127.0.0.1:{grpcPort}", Options(tls));
        Internal = new InternalApi(GrpcChannel.ForAddress($"{Scheme}://127.0.0.1:{internalPort}", Options(tls)));
    }

    /// <summary>With TLS: the certificate both gRPC ports serve (its files can be replaced to renew it).</summary>
    public IssuedCertificate? Certificate { get; }

    /// <summary><c>https</c> when the gRPC ports serve TLS, else <c>http</c>.</summary>
    public string Scheme { get; }

    public ChildProcess Process { get; }

    public int GrpcPort { get; }

    public int InternalPort { get; }

    /// <summary>The HTTP/1.1 connector port (WebSocket, SSE, long-poll, ack, status).</summary>
    public int HttpPort { get; }

    /// <summary><c>http://127.0.0.1:{HttpPort}</c> (or https with TLS).</summary>
    public Uri HttpAddress => new($"{Scheme}://127.0.0.1:{HttpPort}");

    public string InternalAddress => $"{Scheme}://127.0.0.1:{InternalPort}";

    public int ManagementPort { get; }

    public string ReplicaId { get; }

    /// <summary>The public port: Connect and health.</summary>
    public GrpcChannel Channel { get; }

    /// <summary>The internal port: Publish, the internal admin API, reflection and health.</summary>
    public InternalApi Internal { get; }

    public static string Assembly => ServiceBinaries.Assembly("QueueManager", "WebhookConnect.QueueManager");

    /// <summary>Starts a replica against <paramref name="redisEndpoint"/> and waits until its gRPC health is SERVING.
    /// Sweeps run every 100 ms so lease and retry tests do not wait for the default second. A test that restarts a
    /// replica on the same addresses passes <paramref name="grpcPort"/> and <paramref name="internalPort"/>. With
    /// <paramref name="tls"/>, both gRPC ports serve TLS with a certificate that CA issues (<see cref="Certificate"/>),
    /// and this object's channels trust that CA.</summary>
    public static async Task<QueueManagerProcess> StartAsync(
        string redisEndpoint, IReadOnlyDictionary<string, string>? extra = null, string? replicaId = null, int? grpcPort = null, int? internalPort = null,
        TestPki? tls = null)
    {
        var port = grpcPort ?? FreePort.Next();
        var internalListener = internalPort ?? FreePort.Next();
        var httpPort = extra is not null && extra.TryGetValue("QueueManager:HttpPort", out var fixedHttp)
            ? int.Parse(fixedHttp, CultureInfo.InvariantCulture)
            : FreePort.Next();
        var managementPort = FreePort.Next();
        replicaId ??= "qm-" + port.ToString(CultureInfo.InvariantCulture);
        var settings = new Dictionary<string, string>
        {
            ["QueueManager:Redis"] = redisEndpoint,
            ["QueueManager:Host"] = "127.0.0.1",
            ["QueueManager:Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["QueueManager:InternalHost"] = "127.0.0.1",
            ["QueueManager:InternalPort"] = internalListener.ToString(CultureInfo.InvariantCulture),
            ["QueueManager:AllowInternalWithoutToken"] = "true",
            ["QueueManager:HttpHost"] = "127.0.0.1",
            ["QueueManager:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["QueueManager:ReplicaId"] = replicaId,
            ["QueueManager:SweepInterval"] = "00:00:00.1",
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = managementPort.ToString(CultureInfo.InvariantCulture),
        };
        var certificate = tls?.IssueServer(replicaId);
        if (certificate is not null)
        {
            foreach (var listener in new[] { "Tls", "InternalTls", "HttpTls" })
            {
                settings[$"QueueManager:{listener}:CertificateFile"] = certificate.CertificateFile;
                settings[$"QueueManager:{listener}:KeyFile"] = certificate.KeyFile;
            }
        }

        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var process = ServiceBinaries.Start(replicaId, Assembly, settings);
        var replica = new QueueManagerProcess(process, port, internalListener, httpPort, managementPort, replicaId, tls, certificate);
        try
        {
            await replica.WaitServingAsync();
        }
        catch
        {
            await replica.DisposeAsync();
            throw;
        }

        return replica;
    }

    public async Task WaitServingAsync() =>
        await Process.UntilAsync(
            async () =>
            {
                try
                {
                    var reply = await new Health.HealthClient(Channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
                    return reply.Status == ServingStatus.Serving;
                }
                catch (global::Grpc.Core.RpcException)
                {
                    return false;
                }
            },
            Patience,
            $"queue-manager {ReplicaId} to serve gRPC health");

    private static GrpcChannelOptions Options(TestPki? tls) => new() { HttpHandler = tls?.Handler(), DisposeHttpClient = true };

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        Internal.Channel.Dispose();
        await Process.DisposeAsync();
    }
}

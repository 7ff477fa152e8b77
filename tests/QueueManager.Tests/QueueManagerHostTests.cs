using System.Globalization;
using System.Net;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Reflection.V1;
using WebhookConnect.TestKit;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>The queue-manager binary as a process beside a real redis-server: ports, readiness, health, configuration errors.</summary>
public sealed class QueueManagerHostTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ReadinessAndGrpcHealthFollowRedisDownAndBackUp()
    {
        await using var redis = await RedisServer.StartAsync();
        var (settings, grpcPort, managementPort) = Settings(redis);
        await using var service = ServiceBinaries.Start("queue-manager", QueueManagerAssembly, settings);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}") };
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var health = new Health.HealthClient(channel);

        await WaitForReadyzAsync(http, HttpStatusCode.OK, "redis up", service);
        var upConnect = await health.CheckAsync(new HealthCheckRequest { Service = "webhookconnect.v1.ConnectService" });
        await redis.KillAsync();
        var body = await WaitForReadyzAsync(http, HttpStatusCode.ServiceUnavailable, "redis down", service);
        var down = await health.CheckAsync(new HealthCheckRequest());
        var downConnect = await health.CheckAsync(new HealthCheckRequest { Service = "webhookconnect.v1.ConnectService" });
        await redis.RestartAsync();
        await WaitForReadyzAsync(http, HttpStatusCode.OK, "redis back", service);
        var back = await health.CheckAsync(new HealthCheckRequest());

        Assert.Contains("redis", body, StringComparison.Ordinal);
        Assert.Equal(ServingStatus.Serving, upConnect.Status);
        Assert.Equal(ServingStatus.NotServing, down.Status);
        Assert.Equal(ServingStatus.NotServing, downConnect.Status);
        Assert.Equal(ServingStatus.Serving, back.Status);
        Assert.False(service.HasExited, service.Output);
    }

    [Fact]
    public async Task InternalPortServesHealthAndReflection()
    {
        await using var redis = await RedisServer.StartAsync();
        var (settings, _, _) = Settings(redis);
        await using var service = ServiceBinaries.Start("queue-manager", QueueManagerAssembly, settings);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{settings["QueueManager:InternalPort"]}");

        await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    return (await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest())).Status == ServingStatus.Serving;
                }
                catch (global::Grpc.Core.RpcException ex) when (ex.StatusCode == global::Grpc.Core.StatusCode.Unavailable)
                {
                    return false;
                }
            },
            Patience,
            "queue-manager's gRPC health to answer SERVING");
        using var reflection = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await reflection.RequestStream.CompleteAsync();
        Assert.True(await reflection.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Patience));

        var services = reflection.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("grpc.health.v1.Health", services);
        Assert.Contains("webhookconnect.v1.PublishService", services);
        Assert.Contains("webhookconnect.queue.v1.QueueAdminService", services);
    }

    [Fact]
    public async Task WithoutAnInternalTokenStartupIsRefusedNamingTheSetting()
    {
        var output = await RefusedStartAsync(new Dictionary<string, string>());

        Assert.Contains("Invalid configuration: QueueManager:InternalToken = ", output, StringComparison.Ordinal);
        Assert.Contains("is empty: the internal APIs (Publish, queue admin) need a shared token", output, StringComparison.Ordinal);
        Assert.Contains("QueueManager:AllowInternalWithoutToken=true with QueueManager:InternalHost=127.0.0.1", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheDevelopmentSettingIsRefusedOnANonLoopbackInternalListener()
    {
        var output = await RefusedStartAsync(new Dictionary<string, string>
        {
            ["QueueManager:InternalHost"] = "0.0.0.0",
            ["QueueManager:AllowInternalWithoutToken"] = "true",
        });

        Assert.Contains("Invalid configuration: QueueManager:InternalHost = '0.0.0.0': must be a loopback address (e.g. 127.0.0.1) while QueueManager:AllowInternalWithoutToken", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidSettingStopsStartupWithExitCodeTwoNamingIt()
    {
        var output = await RefusedStartAsync(new Dictionary<string, string>
        {
            ["QueueManager:Port"] = "70000",
            ["QueueManager:InternalToken"] = "host-tests-internal-token-0123456789",
        });

        Assert.Contains("Invalid configuration: QueueManager:Port = '70000': must be between 1 and 65535.", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStreamBufferBelowItsMinimumStopsStartupNamingTheSettingAndTheValue()
    {
        var output = await RefusedStartAsync(new Dictionary<string, string>
        {
            ["QueueManager:StreamBufferBytes"] = "1024",
            ["QueueManager:InternalToken"] = "host-tests-internal-token-0123456789",
        });

        Assert.Contains("Invalid configuration: QueueManager:StreamBufferBytes = '1024': must be between 65536 and 1073741824.", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADefaultByteBudgetOutOfRangeStopsStartupNamingIt()
    {
        var output = await RefusedStartAsync(new Dictionary<string, string>
        {
            ["QueueManager:DefaultMaxQueueBytes"] = "1000",
            ["QueueManager:InternalToken"] = "host-tests-internal-token-0123456789",
        });

        Assert.Contains("Invalid configuration: QueueManager:DefaultMaxQueueBytes = '1000': must be between 10485760 and 1099511627776.", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARedisThatMayEvictKeysIsWarnedAboutAtStartNamingItsPolicy()
    {
        await using var redis = await RedisServer.StartAsync(false, FreePort.Next(), ["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]);
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);

        var line = await replica.Process.WaitForLineAsync(l => l.Contains("maxmemory-policy allkeys-lru", StringComparison.Ordinal), Patience);

        Assert.Contains("silently evicts keys, which are accepted messages and channel settings. Set maxmemory-policy noeviction", line, StringComparison.Ordinal);
        Assert.False(replica.Process.HasExited, replica.Process.Output);
    }

    [Fact]
    public async Task ARedisWithNoEvictionAndALimitIsNotWarnedAbout()
    {
        await using var redis = await RedisServer.StartAsync(false, FreePort.Next(), ["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"]);
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);

        await replica.Process.WaitForLineAsync(l => l.Contains("maxmemory-policy noeviction, maxmemory 67108864 bytes", StringComparison.Ordinal), Patience);

        Assert.DoesNotContain("silently evicts", replica.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Could not check the maxmemory-policy", replica.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARedisThatRefusesConfigIsReportedAsUncheckedAndServedAnyway()
    {
        // As managed Redis services do: CONFIG is not available to the client.
        await using var redis = await RedisServer.StartAsync(false, FreePort.Next(), ["--rename-command", "CONFIG", ""]);
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint);

        var line = await replica.Process.WaitForLineAsync(l => l.Contains("Could not check the maxmemory-policy of Redis", StringComparison.Ordinal), Patience);

        Assert.Contains("make sure it is noeviction", line, StringComparison.Ordinal);
        Assert.False(replica.Process.HasExited, replica.Process.Output);
    }

    /// <summary>Starts queue-manager with loopback ports and <paramref name="overrides"/>, expects exit code 2 (a
    /// configuration error) and returns what it printed.</summary>
    private static async Task<string> RefusedStartAsync(Dictionary<string, string> overrides)
    {
        var settings = new Dictionary<string, string>
        {
            ["QueueManager:Host"] = "127.0.0.1",
            ["QueueManager:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["QueueManager:InternalPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["QueueManager:HttpPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        await using var service = ServiceBinaries.Start("queue-manager", QueueManagerAssembly, settings);
        var exitCode = await service.WaitForExitAsync(Patience);
        Assert.True(exitCode == 2, $"exit code {exitCode}, expected 2 (configuration error):\n{service.Output}");
        return service.Output;
    }

    private static string QueueManagerAssembly => ServiceBinaries.Assembly("QueueManager", "WebhookConnect.QueueManager");

    private static (Dictionary<string, string> Settings, int GrpcPort, int ManagementPort) Settings(RedisServer redis)
    {
        var grpcPort = FreePort.Next();
        var managementPort = FreePort.Next();
        var settings = new Dictionary<string, string>
        {
            ["QueueManager:Redis"] = redis.Endpoint,
            ["QueueManager:Host"] = "127.0.0.1",
            ["QueueManager:Port"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["QueueManager:InternalHost"] = "127.0.0.1",
            ["QueueManager:InternalPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["QueueManager:HttpPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["QueueManager:InternalToken"] = "host-tests-internal-token-0123456789",
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = managementPort.ToString(CultureInfo.InvariantCulture),
        };
        return (settings, grpcPort, managementPort);
    }

    private static async Task<string> WaitForReadyzAsync(HttpClient http, HttpStatusCode expected, string what, ChildProcess service)
    {
        var body = "";
        await service.UntilAsync(
            async () =>
            {
                try
                {
                    using var response = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
                    body = await response.Content.ReadAsStringAsync();
                    return response.StatusCode == expected;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            Patience,
            $"/readyz to answer {(int)expected} ({what})");
        return body;
    }
}

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
    public async Task ReadinessFollowsRedisDownAndBackUp()
    {
        await using var redis = await RedisServer.StartAsync();
        var (settings, _, managementPort) = Settings(redis);
        await using var service = ServiceBinaries.Start("queue-manager", QueueManagerAssembly, settings);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}") };

        await WaitForReadyzAsync(http, HttpStatusCode.OK, "redis up", service);
        await redis.KillAsync();
        var body = await WaitForReadyzAsync(http, HttpStatusCode.ServiceUnavailable, "redis down", service);
        await redis.RestartAsync();
        await WaitForReadyzAsync(http, HttpStatusCode.OK, "redis back", service);

        Assert.Contains("redis", body, StringComparison.Ordinal);
        Assert.False(service.HasExited, service.Output);
    }

    [Fact]
    public async Task GrpcPortServesHealthAndReflection()
    {
        await using var redis = await RedisServer.StartAsync();
        var (settings, grpcPort, _) = Settings(redis);
        await using var service = ServiceBinaries.Start("queue-manager", QueueManagerAssembly, settings);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");

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

        Assert.Contains("grpc.health.v1.Health", reflection.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name));
    }

    [Fact]
    public async Task InvalidSettingStopsStartupWithExitCodeTwoNamingIt()
    {
        var settings = new Dictionary<string, string>
        {
            ["QueueManager:Host"] = "127.0.0.1",
            ["QueueManager:Port"] = "70000",
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
        };
        await using var service = ServiceBinaries.Start("queue-manager", QueueManagerAssembly, settings);

        var exitCode = await service.WaitForExitAsync(Patience);

        Assert.Equal(2, exitCode);
        Assert.Contains("Invalid configuration: QueueManager:Port = '70000': must be between 1 and 65535.", service.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", service.Output, StringComparison.Ordinal);
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

using System.Globalization;
using Grpc.Health.V1;
using WebhookConnect.Grpc.Client;
using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests.Support;

/// <summary>A queue-manager on a port chosen by the test, so a restart comes back on the same address.</summary>
public static class FixedPortQueueManager
{
    public static async Task<ChildProcess> StartAsync(string redisEndpoint, int port, string name)
    {
        var process = ServiceBinaries.Start(name, QueueManagerProcess.Assembly, new Dictionary<string, string>
        {
            ["QueueManager:Redis"] = redisEndpoint,
            ["QueueManager:Host"] = "127.0.0.1",
            ["QueueManager:Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["QueueManager:ReplicaId"] = name,
            ["QueueManager:SweepInterval"] = "00:00:00.1",
            ["QueueManager:DrainGracePeriod"] = "00:00:01",
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
        });
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        await process.UntilAsync(
            async () =>
            {
                try
                {
                    var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
                    return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving;
                }
                catch (global::Grpc.Core.RpcException)
                {
                    return false;
                }
            },
            QueueManagerProcess.Patience,
            $"queue-manager {name} to serve on port {port}",
            pollInterval: TimeSpan.FromMilliseconds(20));
        return process;
    }
}

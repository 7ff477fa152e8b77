using System.Globalization;
using Grpc.Health.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Grpc.Client;
using WebhookConnect.TestKit;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace WebhookConnect.QueueManager.Tests.Support;

/// <summary>
/// One real redis-server and one queue-manager process, shared by the tests of a class (an xunit class fixture):
/// starting them costs seconds on a 2-core machine. Tests keep apart by using unique channel names.
/// </summary>
public sealed class QueueManagerFixture : IAsyncLifetime
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static int _sequence;
    private ChildProcess? _service;
    private GrpcChannel? _channel;

    public RedisServer Redis { get; private set; } = null!;

    public QueueAdminService.QueueAdminServiceClient Admin { get; private set; } = null!;

    public PublishService.PublishServiceClient Publish { get; private set; } = null!;

    /// <summary>What the service printed, for failure messages.</summary>
    public string Output => _service?.Output ?? "";

    /// <summary>A channel (or endpoint) name no other test uses.</summary>
    public static string UniqueName(string prefix) =>
        $"{prefix}-{Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..6]}";

    public async ValueTask InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        var grpcPort = FreePort.Next();
        var settings = new Dictionary<string, string>
        {
            ["QueueManager:Redis"] = Redis.Endpoint,
            ["QueueManager:Host"] = "127.0.0.1",
            ["QueueManager:Port"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
        };
        _service = ServiceBinaries.Start("queue-manager", ServiceBinaries.Assembly("QueueManager", "WebhookConnect.QueueManager"), settings);
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        Admin = new QueueAdminService.QueueAdminServiceClient(_channel);
        Publish = new PublishService.PublishServiceClient(_channel);
        var health = new Health.HealthClient(_channel);
        await Eventually.UntilAsync(
            async () =>
            {
                if (_service.HasExited)
                {
                    throw new InvalidOperationException($"queue-manager exited with {_service.ExitCode}:\n{_service.Output}");
                }

                try
                {
                    return (await health.CheckAsync(new HealthCheckRequest())).Status == ServingStatus.Serving;
                }
                catch (global::Grpc.Core.RpcException ex) when (ex.StatusCode == global::Grpc.Core.StatusCode.Unavailable)
                {
                    return false;
                }
            },
            Patience,
            "queue-manager's gRPC health to answer SERVING");
    }

    public async ValueTask DisposeAsync()
    {
        _channel?.Dispose();
        if (_service is not null)
        {
            await _service.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }
}

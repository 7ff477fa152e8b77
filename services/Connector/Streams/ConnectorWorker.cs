using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Connector.Delivery;
using WebhookConnect.Connector.Telemetry;
using ConnectClient = WebhookConnect.Contracts.V1.ConnectService.ConnectServiceClient;

namespace WebhookConnect.Connector.Streams;

/// <summary>Runs one <see cref="SubscriptionStream"/> per configured subscription, all over one gRPC channel.</summary>
public sealed class ConnectorWorker : BackgroundService
{
    private readonly GrpcChannel _channel;

    public ConnectorWorker(IOptions<ConnectorOptions> options, TargetDelivery delivery, ConnectorMetrics metrics, ILoggerFactory loggers)
    {
        var settings = options.Value;
        _channel = QueueManagerChannelFactory.Create(settings.QueueManager);
        var client = new ConnectClient(_channel);
        var logger = loggers.CreateLogger<SubscriptionStream>();
        Streams = [.. settings.Subscriptions.Select(s => new SubscriptionStream(s, settings, client, delivery, metrics, logger, Random.Shared))];
    }

    public IReadOnlyList<SubscriptionStream> Streams { get; }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Streams.Select(stream => stream.RunAsync(stoppingToken)));

    public override void Dispose()
    {
        _channel.Dispose();
        base.Dispose();
    }
}

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
    private readonly Protocols.Http1Endpoint _http1;

    public ConnectorWorker(IOptions<ConnectorOptions> options, TargetDelivery delivery, ConnectorMetrics metrics, ILoggerFactory loggers)
    {
        var settings = options.Value;
        _channel = QueueManagerChannelFactory.Create(settings.QueueManager);
        var client = new ConnectClient(_channel);
        _http1 = new Protocols.Http1Endpoint(settings.QueueManager);
        var logger = loggers.CreateLogger<SubscriptionStream>();
        Streams = [.. settings.Subscriptions.Select(s => new SubscriptionStream(s, settings, client, _http1, delivery, metrics, logger, Random.Shared))];
    }

    public IReadOnlyList<SubscriptionStream> Streams { get; }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Streams.Select(stream => stream.RunAsync(stoppingToken)));

    public override void Dispose()
    {
        _channel.Dispose();
        _http1.Dispose();
        base.Dispose();
    }
}

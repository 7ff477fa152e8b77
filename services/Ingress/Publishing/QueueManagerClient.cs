using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Grpc.Client;

namespace WebhookConnect.Ingress.Publishing;

/// <summary>The PublishService client with the internal token and a deadline on every call.</summary>
public sealed class QueueManagerClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly Metadata _headers = [];
    private readonly TimeSpan _timeout;

    public QueueManagerClient(IOptions<IngressOptions> options)
    {
        var settings = options.Value;
        _channel = GrpcChannel.ForAddress(settings.QueueManager, new GrpcChannelOptions
        {
            // Connection refused must turn into a spool write quickly, not after the default 10 s.
            ConnectTimeout = TimeSpan.FromSeconds(2),
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
        });
        var token = settings.EffectiveQueueManagerToken();
        if (token.Length > 0)
        {
            _headers.Add("authorization", "Bearer " + token);
        }

        _timeout = settings.PublishTimeout;
        Client = new PublishService.PublishServiceClient(_channel);
    }

    public PublishService.PublishServiceClient Client { get; }

    /// <summary>Options for a unary call: the token and a deadline of <c>Ingress:PublishTimeout</c>.</summary>
    public CallOptions Unary(CancellationToken cancellationToken = default) =>
        new(_headers, DateTime.UtcNow + _timeout, cancellationToken);

    /// <summary>Options for the WatchEndpoints stream: the token, no deadline.</summary>
    public CallOptions Streaming(CancellationToken cancellationToken) => new(_headers, null, cancellationToken);

    public void Dispose() => _channel.Dispose();
}

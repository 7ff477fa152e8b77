using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Ingress.Publishing;

/// <summary>
/// The PublishService client (from <c>Grpc.Net.ClientFactory</c>, see <see cref="IngressExtensions"/>) with the
/// internal token and a deadline on every unary call.
/// </summary>
public sealed class QueueManagerClient
{
    private readonly Metadata _headers = [];
    private readonly TimeSpan _timeout;

    public QueueManagerClient(PublishService.PublishServiceClient client, IOptions<IngressOptions> options)
    {
        var settings = options.Value;
        var token = settings.EffectiveQueueManagerToken();
        if (token.Length > 0)
        {
            _headers.Add("authorization", "Bearer " + token);
        }

        _timeout = settings.PublishTimeout;
        Client = client;
    }

    public PublishService.PublishServiceClient Client { get; }

    /// <summary>Options for a unary call: the token and a deadline of <c>Ingress:PublishTimeout</c>.</summary>
    public CallOptions Unary(CancellationToken cancellationToken = default) =>
        new(_headers, DateTime.UtcNow + _timeout, cancellationToken);

    /// <summary>Options for the WatchEndpoints stream: the token, no deadline.</summary>
    public CallOptions Streaming(CancellationToken cancellationToken) => new(_headers, null, cancellationToken);
}

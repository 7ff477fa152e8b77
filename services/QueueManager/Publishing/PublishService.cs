using Grpc.Core;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.QueueManager.Publishing;

/// <summary>The Publish API for ingress (publish.proto).</summary>
public sealed class PublishService(Publisher publisher) : Contracts.V1.PublishService.PublishServiceBase
{
    public override Task<PublishResponse> Publish(PublishRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => publisher.PublishAsync(request.Message));

    public override Task<PublishBatchResponse> PublishBatch(PublishBatchRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => publisher.PublishBatchAsync(request));
}

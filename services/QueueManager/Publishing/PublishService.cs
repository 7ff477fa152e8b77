using Grpc.Core;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Channels;
using Base = WebhookConnect.Contracts.V1.PublishService.PublishServiceBase;

namespace WebhookConnect.QueueManager.Publishing;

/// <summary>
/// The Publish API (publish.proto) served to ingress: Publish and PublishBatch through <see cref="Publisher"/>, the
/// endpoint table through <see cref="EndpointTable"/>.
/// </summary>
public sealed class PublishService(Publisher publisher, EndpointTable endpoints) : Base
{
    public override Task<PublishResponse> Publish(PublishRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => publisher.PublishAsync(request.Message));

    public override Task<PublishBatchResponse> PublishBatch(PublishBatchRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => publisher.PublishBatchAsync(request));

    public override Task<GetEndpointResponse> GetEndpoint(GetEndpointRequest request, ServerCallContext context) =>
        Errors.GuardAsync(async () => new GetEndpointResponse { Route = await endpoints.GetEndpointAsync(request.Namespace, request.EndpointId) });

    public override Task<ListEndpointsResponse> ListEndpoints(ListEndpointsRequest request, ServerCallContext context) =>
        Errors.GuardAsync(endpoints.ListEndpointsAsync);

    public override Task WatchEndpoints(WatchEndpointsRequest request, IServerStreamWriter<WatchEndpointsResponse> responseStream, ServerCallContext context) =>
        Errors.GuardAsync(() => endpoints.WatchAsync(responseStream, context.CancellationToken));
}

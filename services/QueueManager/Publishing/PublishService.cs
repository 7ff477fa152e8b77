using Grpc.Core;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Channels;
using Base = WebhookConnect.Contracts.V1.PublishService.PublishServiceBase;

namespace WebhookConnect.QueueManager.Publishing;

/// <summary>
/// The Publish API (publish.proto) served to ingress. This file holds the endpoint-table methods, which delegate to
/// <see cref="EndpointTable"/>; Publish and PublishBatch belong to the queue engine and join this class there
/// (until then the base answers UNIMPLEMENTED for them).
/// </summary>
public sealed class PublishService(EndpointTable endpoints) : Base
{
    public override Task<GetEndpointResponse> GetEndpoint(GetEndpointRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(async () => new GetEndpointResponse { Route = await endpoints.GetEndpointAsync(request.Namespace, request.EndpointId) });

    public override Task<ListEndpointsResponse> ListEndpoints(ListEndpointsRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(endpoints.ListEndpointsAsync);

    public override Task WatchEndpoints(WatchEndpointsRequest request, IServerStreamWriter<WatchEndpointsResponse> responseStream, ServerCallContext context) =>
        ChannelErrors.GuardAsync(() => endpoints.WatchAsync(responseStream, context.CancellationToken));
}

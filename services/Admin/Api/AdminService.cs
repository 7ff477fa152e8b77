using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using QueueAdminClient = WebhookConnect.Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient;

namespace WebhookConnect.Admin.Api;

/// <summary>
/// The operator API (admin.proto). Every method forwards the request unchanged to the queue-manager's internal admin
/// API, which has the same messages and does the work; this service adds operator authentication
/// (<see cref="Authentication.AdminAuthentication"/>) and the audit log (<see cref="AdminForwarder"/>).
/// </summary>
public sealed class AdminService(QueueAdminClient queue, AdminForwarder forwarder) : Contracts.Admin.V1.AdminService.AdminServiceBase
{
    public override Task<CreateChannelResponse> CreateChannel(CreateChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(CreateChannel), request.Channel, true, options => queue.CreateChannelAsync(request, options).ResponseAsync);

    public override Task<GetChannelResponse> GetChannel(GetChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(GetChannel), request.Channel, false, options => queue.GetChannelAsync(request, options).ResponseAsync);

    public override Task<ListChannelsResponse> ListChannels(ListChannelsRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(ListChannels), "", false, options => queue.ListChannelsAsync(request, options).ResponseAsync);

    public override Task<UpdateChannelResponse> UpdateChannel(UpdateChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(UpdateChannel), request.Channel, true, options => queue.UpdateChannelAsync(request, options).ResponseAsync);

    public override Task<DeleteChannelResponse> DeleteChannel(DeleteChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(DeleteChannel), request.Channel, true, options => queue.DeleteChannelAsync(request, options).ResponseAsync);

    public override Task<ApplyChannelResponse> ApplyChannel(ApplyChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(ApplyChannel), request.Channel, true, options => queue.ApplyChannelAsync(request, options).ResponseAsync);

    public override Task<AddEndpointResponse> AddEndpoint(AddEndpointRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(AddEndpoint), request.Channel, true, options => queue.AddEndpointAsync(request, options).ResponseAsync);

    public override Task<UpdateEndpointResponse> UpdateEndpoint(UpdateEndpointRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(UpdateEndpoint), request.Channel, true, options => queue.UpdateEndpointAsync(request, options).ResponseAsync);

    public override Task<RemoveEndpointResponse> RemoveEndpoint(RemoveEndpointRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(RemoveEndpoint), request.Channel, true, options => queue.RemoveEndpointAsync(request, options).ResponseAsync);

    public override Task<RotateTokenResponse> RotateToken(RotateTokenRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(RotateToken), request.Channel, true, options => queue.RotateTokenAsync(request, options).ResponseAsync);

    public override Task<PauseChannelResponse> PauseChannel(PauseChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(PauseChannel), request.Channel, true, options => queue.PauseChannelAsync(request, options).ResponseAsync);

    public override Task<ResumeChannelResponse> ResumeChannel(ResumeChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(ResumeChannel), request.Channel, true, options => queue.ResumeChannelAsync(request, options).ResponseAsync);

    public override Task<ListConnectionsResponse> ListConnections(ListConnectionsRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(ListConnections), request.Channel, false, options => queue.ListConnectionsAsync(request, options).ResponseAsync);

    public override Task<DisconnectConnectionResponse> DisconnectConnection(DisconnectConnectionRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(DisconnectConnection), request.Channel, true, options => queue.DisconnectConnectionAsync(request, options).ResponseAsync);

    public override Task<GetChannelStatsResponse> GetChannelStats(GetChannelStatsRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(GetChannelStats), request.Channel, false, options => queue.GetChannelStatsAsync(request, options).ResponseAsync);

    public override Task<GetOverviewResponse> GetOverview(GetOverviewRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(GetOverview), "", false, options => queue.GetOverviewAsync(request, options).ResponseAsync);

    public override Task<ListDeadLettersResponse> ListDeadLetters(ListDeadLettersRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(ListDeadLetters), request.Channel, false, options => queue.ListDeadLettersAsync(request, options).ResponseAsync);

    public override Task<GetDeadLetterResponse> GetDeadLetter(GetDeadLetterRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(GetDeadLetter), request.Channel, false, options => queue.GetDeadLetterAsync(request, options).ResponseAsync);

    public override Task<ReplayDeadLettersResponse> ReplayDeadLetters(ReplayDeadLettersRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(ReplayDeadLetters), request.Channel, true, options => queue.ReplayDeadLettersAsync(request, options).ResponseAsync);

    public override Task<PurgeDeadLettersResponse> PurgeDeadLetters(PurgeDeadLettersRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(PurgeDeadLetters), request.Channel, true, options => queue.PurgeDeadLettersAsync(request, options).ResponseAsync);

    public override Task<PeekMessagesResponse> PeekMessages(PeekMessagesRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, nameof(PeekMessages), request.Channel, false, options => queue.PeekMessagesAsync(request, options).ResponseAsync);
}

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
        forwarder.ForwardAsync(context, request, options => queue.CreateChannelAsync(request, options).ResponseAsync);

    public override Task<GetChannelResponse> GetChannel(GetChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.GetChannelAsync(request, options).ResponseAsync);

    public override Task<ListChannelsResponse> ListChannels(ListChannelsRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.ListChannelsAsync(request, options).ResponseAsync);

    public override Task<UpdateChannelResponse> UpdateChannel(UpdateChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.UpdateChannelAsync(request, options).ResponseAsync);

    public override Task<DeleteChannelResponse> DeleteChannel(DeleteChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.DeleteChannelAsync(request, options).ResponseAsync);

    public override Task<ApplyChannelResponse> ApplyChannel(ApplyChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.ApplyChannelAsync(request, options).ResponseAsync);

    public override Task<AddEndpointResponse> AddEndpoint(AddEndpointRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.AddEndpointAsync(request, options).ResponseAsync);

    public override Task<UpdateEndpointResponse> UpdateEndpoint(UpdateEndpointRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.UpdateEndpointAsync(request, options).ResponseAsync);

    public override Task<RemoveEndpointResponse> RemoveEndpoint(RemoveEndpointRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.RemoveEndpointAsync(request, options).ResponseAsync);

    public override Task<RotateTokenResponse> RotateToken(RotateTokenRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.RotateTokenAsync(request, options).ResponseAsync);

    public override Task<PauseChannelResponse> PauseChannel(PauseChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.PauseChannelAsync(request, options).ResponseAsync);

    public override Task<ResumeChannelResponse> ResumeChannel(ResumeChannelRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.ResumeChannelAsync(request, options).ResponseAsync);

    public override Task<ListConnectionsResponse> ListConnections(ListConnectionsRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.ListConnectionsAsync(request, options).ResponseAsync);

    public override Task<DisconnectConnectionResponse> DisconnectConnection(DisconnectConnectionRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.DisconnectConnectionAsync(request, options).ResponseAsync);

    public override Task<GetChannelStatsResponse> GetChannelStats(GetChannelStatsRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.GetChannelStatsAsync(request, options).ResponseAsync);

    public override Task<GetOverviewResponse> GetOverview(GetOverviewRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.GetOverviewAsync(request, options).ResponseAsync);

    public override Task<ListDeadLettersResponse> ListDeadLetters(ListDeadLettersRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.ListDeadLettersAsync(request, options).ResponseAsync);

    public override Task<GetDeadLetterResponse> GetDeadLetter(GetDeadLetterRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.GetDeadLetterAsync(request, options).ResponseAsync);

    public override Task<ReplayDeadLettersResponse> ReplayDeadLetters(ReplayDeadLettersRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.ReplayDeadLettersAsync(request, options).ResponseAsync);

    public override Task<PurgeDeadLettersResponse> PurgeDeadLetters(PurgeDeadLettersRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.PurgeDeadLettersAsync(request, options).ResponseAsync);

    public override Task<PeekMessagesResponse> PeekMessages(PeekMessagesRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.PeekMessagesAsync(request, options).ResponseAsync);

    public override Task<ListMessagesResponse> ListMessages(ListMessagesRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.ListMessagesAsync(request, options).ResponseAsync);

    public override Task<GetMessageResponse> GetMessage(GetMessageRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.GetMessageAsync(request, options).ResponseAsync);

    public override Task<ResendMessageResponse> ResendMessage(ResendMessageRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.ResendMessageAsync(request, options).ResponseAsync);

    public override Task<ReplayRangeResponse> ReplayRange(ReplayRangeRequest request, ServerCallContext context) =>
        forwarder.ForwardAsync(context, request, options => queue.ReplayRangeAsync(request, options).ResponseAsync);

    public override Task TailChannel(TailChannelRequest request, IServerStreamWriter<TailChannelResponse> responseStream, ServerCallContext context) =>
        forwarder.ForwardStreamAsync(context, request, options => queue.TailChannel(request, options), responseStream);
}

using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.QueueManager.Channels;
using Base = WebhookConnect.Contracts.Queue.V1.QueueAdminService.QueueAdminServiceBase;

namespace WebhookConnect.QueueManager.Admin;

/// <summary>
/// queue-manager's internal admin API (queue_admin.proto). Channel methods are thin calls into
/// <see cref="ChannelStore"/>, the queue's (connections, stats, dead letters, peek) into <see cref="QueueQueries"/>;
/// <see cref="Errors"/> turns refusals into statuses.
/// </summary>
public sealed class QueueAdminService(ChannelStore store, QueueQueries queries, History.MessageHistory history, History.ChannelTail tail) : Base
{
    public override Task<CreateChannelResponse> CreateChannel(CreateChannelRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => store.CreateAsync(request));

    public override Task<GetChannelResponse> GetChannel(GetChannelRequest request, ServerCallContext context) =>
        Errors.GuardAsync(async () => new GetChannelResponse { Channel = await store.GetAsync(request.Channel) });

    public override Task<ListChannelsResponse> ListChannels(ListChannelsRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => store.ListAsync(request));

    public override Task<UpdateChannelResponse> UpdateChannel(UpdateChannelRequest request, ServerCallContext context) =>
        Errors.GuardAsync(async () => new UpdateChannelResponse { Channel = await store.UpdateAsync(request) });

    public override Task<DeleteChannelResponse> DeleteChannel(DeleteChannelRequest request, ServerCallContext context) =>
        Errors.GuardAsync(async () =>
        {
            await store.DeleteAsync(request.Channel);
            return new DeleteChannelResponse();
        });

    public override Task<ApplyChannelResponse> ApplyChannel(ApplyChannelRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => store.ApplyAsync(request));

    public override Task<AddEndpointResponse> AddEndpoint(AddEndpointRequest request, ServerCallContext context) =>
        Errors.GuardAsync(async () => new AddEndpointResponse { Channel = await store.AddEndpointAsync(request) });

    public override Task<UpdateEndpointResponse> UpdateEndpoint(UpdateEndpointRequest request, ServerCallContext context) =>
        Errors.GuardAsync(async () => new UpdateEndpointResponse { Channel = await store.UpdateEndpointAsync(request) });

    public override Task<RemoveEndpointResponse> RemoveEndpoint(RemoveEndpointRequest request, ServerCallContext context) =>
        Errors.GuardAsync(async () => new RemoveEndpointResponse { Channel = await store.RemoveEndpointAsync(request) });

    public override Task<RotateTokenResponse> RotateToken(RotateTokenRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => store.RotateTokenAsync(request));

    public override Task<PauseChannelResponse> PauseChannel(PauseChannelRequest request, ServerCallContext context) =>
        Errors.GuardAsync(async () => new PauseChannelResponse { Channel = await store.SetPausedAsync(request.Channel, paused: true) });

    public override Task<ResumeChannelResponse> ResumeChannel(ResumeChannelRequest request, ServerCallContext context) =>
        Errors.GuardAsync(async () => new ResumeChannelResponse { Channel = await store.SetPausedAsync(request.Channel, paused: false) });

    public override Task<GetChannelStatsResponse> GetChannelStats(GetChannelStatsRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => queries.GetChannelStatsAsync(request));

    public override Task<GetOverviewResponse> GetOverview(GetOverviewRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => queries.GetOverviewAsync(request));

    public override Task<ListConnectionsResponse> ListConnections(ListConnectionsRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => queries.ListConnectionsAsync(request));

    public override Task<DisconnectConnectionResponse> DisconnectConnection(DisconnectConnectionRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => queries.DisconnectConnectionAsync(request));

    public override Task<ListDeadLettersResponse> ListDeadLetters(ListDeadLettersRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => queries.ListDeadLettersAsync(request));

    public override Task<GetDeadLetterResponse> GetDeadLetter(GetDeadLetterRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => queries.GetDeadLetterAsync(request));

    public override Task<ReplayDeadLettersResponse> ReplayDeadLetters(ReplayDeadLettersRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => queries.ReplayDeadLettersAsync(request));

    public override Task<PurgeDeadLettersResponse> PurgeDeadLetters(PurgeDeadLettersRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => queries.PurgeDeadLettersAsync(request));

    public override Task<PeekMessagesResponse> PeekMessages(PeekMessagesRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => queries.PeekMessagesAsync(request));

    public override Task<ListMessagesResponse> ListMessages(ListMessagesRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => history.ListAsync(request));

    public override Task<GetMessageResponse> GetMessage(GetMessageRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => history.GetAsync(request));

    public override Task<ResendMessageResponse> ResendMessage(ResendMessageRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => history.ResendAsync(request));

    public override Task<ReplayRangeResponse> ReplayRange(ReplayRangeRequest request, ServerCallContext context) =>
        Errors.GuardAsync(() => history.ReplayRangeAsync(request, context.CancellationToken));

    public override Task TailChannel(TailChannelRequest request, IServerStreamWriter<TailChannelResponse> responseStream, ServerCallContext context) =>
        Errors.GuardAsync(() => tail.RunAsync(request, responseStream, context.CancellationToken));
}

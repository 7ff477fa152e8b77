using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.QueueManager.Channels;
using Base = WebhookConnect.Contracts.Queue.V1.QueueAdminService.QueueAdminServiceBase;

namespace WebhookConnect.QueueManager.Admin;

/// <summary>
/// queue-manager's internal admin API (queue_admin.proto): the channel methods. Each is a thin call into
/// <see cref="ChannelStore"/>; <see cref="ChannelErrors"/> turns refusals into statuses. Connections, stats, dead
/// letters and peek are not overridden here (the base answers UNIMPLEMENTED until the queue engine provides them).
/// </summary>
public sealed class QueueAdminService(ChannelStore store) : Base
{
    public override Task<CreateChannelResponse> CreateChannel(CreateChannelRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(() => store.CreateAsync(request));

    public override Task<GetChannelResponse> GetChannel(GetChannelRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(async () => new GetChannelResponse { Channel = await store.GetAsync(request.Channel) });

    public override Task<ListChannelsResponse> ListChannels(ListChannelsRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(() => store.ListAsync(request));

    public override Task<UpdateChannelResponse> UpdateChannel(UpdateChannelRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(async () => new UpdateChannelResponse { Channel = await store.UpdateAsync(request) });

    public override Task<DeleteChannelResponse> DeleteChannel(DeleteChannelRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(async () =>
        {
            await store.DeleteAsync(request.Channel);
            return new DeleteChannelResponse();
        });

    public override Task<ApplyChannelResponse> ApplyChannel(ApplyChannelRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(() => store.ApplyAsync(request));

    public override Task<AddEndpointResponse> AddEndpoint(AddEndpointRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(async () => new AddEndpointResponse { Channel = await store.AddEndpointAsync(request) });

    public override Task<UpdateEndpointResponse> UpdateEndpoint(UpdateEndpointRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(async () => new UpdateEndpointResponse { Channel = await store.UpdateEndpointAsync(request) });

    public override Task<RemoveEndpointResponse> RemoveEndpoint(RemoveEndpointRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(async () => new RemoveEndpointResponse { Channel = await store.RemoveEndpointAsync(request) });

    public override Task<RotateTokenResponse> RotateToken(RotateTokenRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(() => store.RotateTokenAsync(request));

    public override Task<PauseChannelResponse> PauseChannel(PauseChannelRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(async () => new PauseChannelResponse { Channel = await store.SetPausedAsync(request.Channel, paused: true) });

    public override Task<ResumeChannelResponse> ResumeChannel(ResumeChannelRequest request, ServerCallContext context) =>
        ChannelErrors.GuardAsync(async () => new ResumeChannelResponse { Channel = await store.SetPausedAsync(request.Channel, paused: false) });
}

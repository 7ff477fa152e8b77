using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;

namespace WebhookConnect.QueueManager.Admin;

/// <summary>The internal admin API (queue_admin.proto).</summary>
public sealed class QueueAdminService(QueueQueries queries) : Contracts.Queue.V1.QueueAdminService.QueueAdminServiceBase
{
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
}

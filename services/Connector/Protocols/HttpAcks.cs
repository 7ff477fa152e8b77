using System.Net;
using System.Net.Http.Headers;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Protocols;

/// <summary>
/// <c>POST /connect/ack?message_id=…&amp;status=ack|nack&amp;retry=…</c> with <c>Authorization</c> and
/// <c>X-Connection-ID</c> (issue 16), how SSE and long-poll connections settle their messages. The ids of one merged
/// <c>Ack</c> frame are posted concurrently (at most <c>max_in_flight</c> of them exist).
/// </summary>
/// <remarks>
/// A settlement that fails (404 "Message not in flight" after a lease expired, a lost connection) is logged and
/// dropped: queue-manager redelivers the message when its lease ends, exactly as for an ack lost on a gRPC stream.
/// </remarks>
public sealed partial class HttpAcks(Http1Endpoint endpoint, string token, ILogger logger)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <param name="reports">What the targets answered (Ack.reports), sent as <c>status_code</c> and <c>duration_ms</c>.</param>
    public Task AckAsync(IEnumerable<(string MessageId, string ConnectionId)> acks, IReadOnlyCollection<TargetReport> reports, CancellationToken cancel)
    {
        var byId = reports.Count == 0 ? null : reports.ToDictionary(r => r.MessageId, StringComparer.Ordinal);
        return Task.WhenAll(acks.Select(ack => PostAsync(
            ack.MessageId,
            ack.ConnectionId,
            byId?.GetValueOrDefault(ack.MessageId) is { } report ? "status=ack" + Http1Messages.AnswerQuery(report.TargetStatusCode, report.TargetDuration) : "status=ack",
            cancel)));
    }

    public Task NackAsync(Nack nack, string connectionId, CancellationToken cancel)
    {
        var query = "status=nack&retry=" + (nack.Retry ? "true" : "false");
        if (nack.Reason.Length > 0)
        {
            // Ours: it becomes the dead letter's last error; a server that does not know it ignores it.
            query += "&reason=" + Uri.EscapeDataString(nack.Reason.Length > 200 ? nack.Reason[..200] : nack.Reason);
        }

        return PostAsync(nack.MessageId, connectionId, query + Http1Messages.AnswerQuery(nack.TargetStatusCode, nack.TargetDuration), cancel);
    }

    private async Task PostAsync(string messageId, string connectionId, string query, CancellationToken cancel)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Path($"connect/ack?message_id={Uri.EscapeDataString(messageId)}&{query}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.TryAddWithoutValidation("X-Connection-ID", connectionId);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(Deadline);
        try
        {
            using var response = await endpoint.Http.SendAsync(request, deadline.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                var body = await response.Content.ReadAsStringAsync(deadline.Token);
                LogRefused(logger, messageId, (int)response.StatusCode, body.Length > 200 ? body[..200] : body);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            if (!cancel.IsCancellationRequested)
            {
                LogFailed(logger, messageId, ex.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "POST /connect/ack for {MessageId} answered {Status}: {Body}; queue-manager redelivers it when its lease ends")]
    private static partial void LogRefused(ILogger logger, string messageId, int status, string body);

    [LoggerMessage(Level = LogLevel.Warning, Message = "POST /connect/ack for {MessageId} failed: {Reason}; queue-manager redelivers it when its lease ends")]
    private static partial void LogFailed(ILogger logger, string messageId, string reason);
}

using System.Diagnostics;
using System.Net.Sockets;
using WebhookConnect.Connector.Telemetry;

namespace WebhookConnect.Connector.Delivery;

/// <summary>
/// The innermost handler of the target client, below the resilience pipeline, so it runs once per attempt: it measures
/// each call (<c>webhookconnect_connector_target_duration_seconds</c>, local retries counted separately) and, for an
/// answer that is not 2xx, reads the start of the body within the attempt's timeout. The response then carries at most
/// <see cref="ExcerptBytes"/> bytes, enough for the nack reason; a body that does not come in time is a timed-out
/// attempt, as a missing answer is.
/// </summary>
public sealed class TargetAttemptHandler(ConnectorMetrics metrics) : DelegatingHandler
{
    /// <summary>Bytes kept of a non-2xx body: up to <see cref="TargetDelivery.ExcerptLength"/> characters of UTF-8.</summary>
    public const int ExcerptBytes = TargetDelivery.ExcerptLength * 4;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var target = (TargetRequestMessage)request;
        var started = Stopwatch.GetTimestamp();
        HttpResponseMessage response;
        DeliveryOutcome outcome;
        try
        {
            response = await base.SendAsync(request, cancellationToken);
            outcome = StatusMapping.OutcomeOf(response.StatusCode);
            if (outcome != DeliveryOutcome.Acked)
            {
                await KeepExcerptAsync(response, cancellationToken);
            }
        }
        catch (Exception ex) when ((ex is OperationCanceledException or HttpRequestException) && !target.DeliveryCancellation.IsCancellationRequested)
        {
            // A timeout (the pipeline cancelled the attempt) or a connection failure: both retried.
            Record(target, started, DeliveryOutcome.Retry, 0);
            throw;
        }
        catch (Exception ex) when (ex is SocketException or IOException && !target.DeliveryCancellation.IsCancellationRequested)
        {
            // SocketsHttpHandler lets a few socket errors through unwrapped, e.g. ENOTCONN from reading the remote
            // address of a connection the target closed right after accepting it. They are connection failures like
            // any other: wrapped so the resilience pipeline retries them and the nack names the reason.
            Record(target, started, DeliveryOutcome.Retry, 0);
            throw new HttpRequestException(HttpRequestError.ConnectionError, ex.Message, ex);
        }

        Record(target, started, outcome, (int)response.StatusCode);
        return response;
    }

    private void Record(TargetRequestMessage request, long started, DeliveryOutcome outcome, int status) =>
        metrics.TargetCall(request.Channel, Stopwatch.GetElapsedTime(started), new DeliveryResult(outcome, status, ""));

    private static async Task KeepExcerptAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var buffer = new byte[ExcerptBytes];
        var read = 0;
        var original = response.Content;
        try
        {
            await using var body = await original.ReadAsStreamAsync(cancellationToken);
            int n;
            while (read < buffer.Length && (n = await body.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0)
            {
                read += n;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            // The status decides; a body that broke off only shortens the reason.
        }
        catch
        {
            response.Dispose();
            throw;
        }

        // Disposing the original content returns the connection to the pool (the rest of the body is drained or the
        // connection closed, as for any response disposed unread).
        original.Dispose();
        response.Content = new ByteArrayContent(buffer, 0, read);
    }
}

using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Polly.Timeout;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Connector.Telemetry;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Delivery;

/// <summary>
/// Calls a message's target and maps the answer to ack / nack (SPEC §9): 2xx → ack; 4xx except 408 and 429 →
/// nack without retry, with the status and a body excerpt; 5xx, 408, 429, timeouts and connection failures → the
/// target client's short local retries (<see cref="TargetHttpClient"/>), then nack with retry so queue-manager applies
/// the channel's backoff.
/// </summary>
public sealed class TargetDelivery(IHttpClientFactory httpClientFactory, Microsoft.Extensions.Options.IOptions<ConnectorOptions> options, DeliveryTracing tracing)
{
    /// <summary>True when the HTTP handler writes the trace context (its own POST span's); then the request does not carry the message's.</summary>
    private readonly bool _handlerPropagates = tracing.Exported;

    private readonly DroppedHeaders _dropped = new(options.Value.DropHeaders, options.Value.AlsoDropHeaders);

    /// <summary>Longest body excerpt put into a nack reason.</summary>
    public const int ExcerptLength = 200;

    // The handler lives as long as the process (TargetHttpClient), so one client over it is enough.
    private readonly HttpClient _http = httpClientFactory.CreateClient(TargetHttpClient.Name);

    /// <summary>Delivers one message to its subscription's target. Throws <see cref="OperationCanceledException"/>
    /// when <paramref name="cancellationToken"/> fires (shutdown or a lost stream), and any failure other than a
    /// status, a timeout or a connection failure (the stream nacks it with retry).</summary>
    public async Task<DeliveryResult> DeliverAsync(Message message, SubscriptionOptions subscription, CancellationToken cancellationToken)
    {
        var target = subscription.TargetFor(message.EndpointId);
        if (target is null)
        {
            return new DeliveryResult(DeliveryOutcome.Rejected, 0, $"no target for endpoint {message.EndpointId}");
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            using var request = TargetRequest.Create(message, target, new Uri(target.Url), _dropped, _handlerPropagates, cancellationToken);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var status = (int)response.StatusCode;
            var outcome = StatusMapping.OutcomeOf(response.StatusCode);
            if (outcome == DeliveryOutcome.Acked)
            {
                return new DeliveryResult(outcome, status, "", Stopwatch.GetElapsedTime(started));
            }

            // TargetAttemptHandler has cut the body down to the excerpt's bytes.
            var excerpt = Excerpt(await response.Content.ReadAsByteArrayAsync(cancellationToken));
            return new DeliveryResult(outcome, status, excerpt.Length == 0 ? $"HTTP {status}" : $"HTTP {status}: {excerpt}", Stopwatch.GetElapsedTime(started));
        }
        catch (TimeoutRejectedException)
        {
            return new DeliveryResult(DeliveryOutcome.Retry, 0, $"timeout after {target.Timeout.TotalSeconds:0.###} s", Stopwatch.GetElapsedTime(started));
        }
        catch (HttpRequestException ex)
        {
            var detail = ex.InnerException is SocketException socket ? socket.Message : ex.Message;
            return new DeliveryResult(DeliveryOutcome.Retry, 0, $"connection failed: {detail}", Stopwatch.GetElapsedTime(started));
        }
    }

    private static string Excerpt(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body).ReplaceLineEndings(" ").Trim();
        return text.Length <= ExcerptLength ? text : text[..ExcerptLength];
    }
}

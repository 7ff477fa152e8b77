using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Connector.Telemetry;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Delivery;

/// <summary>
/// Calls a message's target and maps the answer to ack / nack (SPEC §9): 2xx → ack; 4xx except 408 and 429 →
/// nack without retry, with the status and a body excerpt; 5xx, 408, 429, timeouts and connection failures → a few
/// short local retries (Polly), then nack with retry so queue-manager applies the channel's backoff.
/// </summary>
public sealed class TargetDelivery : IDisposable
{
    /// <summary>Longest body excerpt put into a nack reason.</summary>
    public const int ExcerptLength = 200;

    private readonly HttpClient _http;
    private readonly ResiliencePipeline<DeliveryResult> _pipeline;
    private readonly ConnectorMetrics _metrics;

    public TargetDelivery(IOptions<ConnectorOptions> options, ConnectorMetrics metrics)
    {
        _metrics = metrics;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = options.Value.TargetMaxConnections == 0 ? int.MaxValue : options.Value.TargetMaxConnections,
            // Original header values are bytes; Latin-1 sends each char back as the byte it came from.
            RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1,
            // The message carries the sender's trace context (traceparent) and we forward it as is; the handler must
            // not replace it with a span of its own.
            ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator(),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };

        var retry = options.Value.Retry;
        var builder = new ResiliencePipelineBuilder<DeliveryResult>();
        if (retry.Attempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<DeliveryResult>
            {
                MaxRetryAttempts = retry.Attempts,
                Delay = retry.Delay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = false,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result.Outcome == DeliveryOutcome.Retry),
            });
        }

        _pipeline = builder.Build();
    }

    /// <summary>Delivers one message to its subscription's target. Throws <see cref="OperationCanceledException"/>
    /// only when <paramref name="cancellationToken"/> fires (shutdown or a lost stream).</summary>
    public async Task<DeliveryResult> DeliverAsync(Message message, SubscriptionOptions subscription, CancellationToken cancellationToken)
    {
        var target = subscription.TargetFor(message.EndpointId);
        if (target is null)
        {
            return new DeliveryResult(DeliveryOutcome.Rejected, 0, $"no target for endpoint {message.EndpointId}");
        }

        var url = new Uri(target.Url);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            return await _pipeline.ExecuteAsync(
                static (context, state) => new ValueTask<DeliveryResult>(state.Self.CallAsync(state.Message, state.Target, state.Url, context.CancellationToken)),
                context,
                (Self: this, Message: message, Target: target, Url: url));
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async Task<DeliveryResult> CallAsync(Message message, TargetOptions target, Uri url, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(target.Timeout);
        var started = Stopwatch.GetTimestamp();
        DeliveryResult result;
        try
        {
            using var request = TargetRequest.Create(message, target, url);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300)
            {
                result = new DeliveryResult(DeliveryOutcome.Acked, status, "");
            }
            else
            {
                var excerpt = await ExcerptAsync(response, timeout.Token);
                var reason = excerpt.Length == 0 ? $"HTTP {status}" : $"HTTP {status}: {excerpt}";
                var retryable = status is >= 500 or 408 or 429 || status < 400;
                result = new DeliveryResult(retryable ? DeliveryOutcome.Retry : DeliveryOutcome.Rejected, status, reason);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            result = new DeliveryResult(DeliveryOutcome.Retry, 0, $"timeout after {target.Timeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException ex)
        {
            var detail = ex.InnerException is SocketException socket ? socket.Message : ex.Message;
            result = new DeliveryResult(DeliveryOutcome.Retry, 0, $"connection failed: {detail}");
        }

        _metrics.TargetCall(message.Channel, Stopwatch.GetElapsedTime(started), result);
        return result;
    }

    private static async Task<string> ExcerptAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var buffer = new byte[ExcerptLength * 4];
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var read = 0;
            int n;
            while (read < buffer.Length && (n = await body.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0)
            {
                read += n;
            }

            var text = Encoding.UTF8.GetString(buffer, 0, read).ReplaceLineEndings(" ").Trim();
            return text.Length <= ExcerptLength ? text : text[..ExcerptLength];
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return "";
        }
    }

    public void Dispose() => _http.Dispose();
}

using System.Diagnostics;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Admission;
using WebhookConnect.Ingress.Endpoints;
using WebhookConnect.Ingress.Publishing;
using WebhookConnect.Ingress.Spool;
using WebhookConnect.Ingress.Telemetry;
using WebhookConnect.Ingress.Verification;

namespace WebhookConnect.Ingress.Intake;

/// <summary>
/// <c>POST /webhook/{endpoint_id}</c> and <c>/webhook/{namespace}/{endpoint_id}</c> (SPEC §4). Checks run cheapest
/// first, so floods are refused before their bodies are read: method, endpoint, source address, the limits (looked
/// at, not charged), declared size; then the body is read (bounded in bytes held and in time), the sender verified
/// (a failure charges the source's bucket, a success the endpoint's), and the message published, or spooled when
/// the queue cannot be reached. Only a confirmed write is answered 200; only a durable spool write 202.
/// </summary>
public sealed partial class WebhookHandler(
    EndpointCache endpoints,
    FailedVerificationLimit failures,
    BodyIntake bodies,
    IQueuePublisher publisher,
    SpoolFile spool,
    QueueAvailability availability,
    IngressMetrics metrics,
    TimeProvider time,
    IOptions<IngressOptions> options,
    ILogger<WebhookHandler> logger)
{
    private const string Prefix = "/webhook/";

    private readonly IngressOptions _options = options.Value;

    public async Task HandleAsync(HttpContext context)
    {
        var receivedAt = time.GetUtcNow();
        var label = IngressMetrics.UnknownEndpoint;
        try
        {
            label = await AdmitAsync(context, receivedAt);
        }
        catch (BadHttpRequestException ex)
        {
            // A malformed or aborted body: Kestrel's own status (400, 408, 413), nothing stored.
            if (!context.Response.HasStarted)
            {
                context.Response.StatusCode = ex.StatusCode;
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The sender went away before we answered; if it was after a publish, the message is queued and a
            // retry of the sender's will be a duplicate, which is what at-least-once allows.
        }

        metrics.Request(label, context.Response.StatusCode);
    }

    /// <returns>The endpoint label for the request metric.</returns>
    private async Task<string> AdmitAsync(HttpContext context, DateTimeOffset receivedAt)
    {
        var request = context.Request;
        if (HeaderFieldCount(request.Headers) > _options.MaxHeaderCount)
        {
            // Ingress' own count limit rather than Kestrel's, so that HTTP/2 gets 431 too (IngressExtensions).
            await WebhookResponses.TooManyHeadersAsync(context);
            return IngressMetrics.UnknownEndpoint;
        }

        if (!TryRoute(request.Path, out var ns, out var id))
        {
            await WebhookResponses.UnknownEndpointAsync(context);
            return IngressMetrics.UnknownEndpoint;
        }

        if (!HttpMethods.IsPost(request.Method))
        {
            await WebhookResponses.MethodNotAllowedAsync(context);
            return IngressMetrics.UnknownEndpoint;
        }

        if (!endpoints.IsLoaded)
        {
            await WebhookResponses.NotReadyAsync(context, _options.UnavailableRetryAfter);
            return IngressMetrics.UnknownEndpoint;
        }

        if (endpoints.Find(ns, id) is not { } endpoint)
        {
            await WebhookResponses.UnknownEndpointAsync(context);
            return IngressMetrics.UnknownEndpoint;
        }

        var source = endpoint.Source.Resolve(context);
        if (!endpoint.Source.IsAllowed(source))
        {
            await WebhookResponses.ForbiddenAsync(context);
            return endpoint.Label;
        }

        // Looks only: nothing is charged before verification (docs/ingress.md, "Rate limits before and after
        // verification"). A source that has spent its failures here, or an endpoint whose verified senders have spent
        // its rate, is refused before the body is read.
        if (endpoint.Verifier is not null && failures.IsRefused(endpoint.Label, source, out var wait))
        {
            await WebhookResponses.RateLimitedAsync(context, wait);
            return endpoint.Label;
        }

        if (endpoint.RateLimiter is { } limiter && !limiter.CanTake(out var retryAfter))
        {
            await WebhookResponses.RateLimitedAsync(context, retryAfter);
            return endpoint.Label;
        }

        var limit = endpoint.MaxMessageBytes is > 0 and var channelLimit && channelLimit < _options.MaxBodyBytes ? (int)channelLimit : _options.MaxBodyBytes;
        var read = await bodies.ReadAsync(context, limit);
        try
        {
            switch (read.Outcome)
            {
                case BodyOutcome.TooLarge:
                    await WebhookResponses.TooLargeAsync(context);
                    return endpoint.Label;
                case BodyOutcome.OverBudget:
                    LogBodyBudgetFull(logger, endpoint.Label, bodies.Budget.Limit);
                    await WebhookResponses.BodyBudgetFullAsync(context, _options.UnavailableRetryAfter);
                    return endpoint.Label;
                case BodyOutcome.TimedOut:
                    await WebhookResponses.BodyTimeoutAsync(context);
                    return endpoint.Label;
            }

            // Without a preset nothing is verified, so the empty verdict: nothing to drop, no signature to remember.
            var verdict = default(Verdict);
            if (endpoint.Verifier is { } verifier && !(verdict = verifier.Verify(request.Headers, read.Body, receivedAt)).Verified)
            {
                failures.Charge(endpoint.Label, source);
                await WebhookResponses.UnauthorizedAsync(context);
                return endpoint.Label;
            }

            if (endpoint.RateLimiter is { } verified && !verified.TryTake(out var later))
            {
                await WebhookResponses.RateLimitedAsync(context, later);
                return endpoint.Label;
            }

            var message = Capture(context, endpoint, read.Body, receivedAt, source?.ToString() ?? "", verdict, _options.ReplayWindow);
            await PublishAsync(context, message);
            return endpoint.Label;
        }
        finally
        {
            bodies.Release(read.Charged);
        }
    }

    private async Task PublishAsync(HttpContext context, Message message)
    {
        using var activity = IngressMetrics.Source.StartActivity("publish webhook", ActivityKind.Internal);
        activity?.SetTag("webhookconnect.message_id", message.MessageId);
        activity?.SetTag("webhookconnect.channel", message.Channel);
        QueueAnswer answer;
        if (availability.IsDown)
        {
            answer = new QueueAnswer(QueueAnswerKind.Transient, message.MessageId, message.Channel, Detail: "the queue is known to be unreachable");
        }
        else
        {
            var started = Stopwatch.GetTimestamp();
            answer = await publisher.PublishAsync(message);
            metrics.Published(Outcome(answer.Kind), Stopwatch.GetElapsedTime(started));
        }

        switch (answer.Kind)
        {
            case QueueAnswerKind.Queued:
            case QueueAnswerKind.Duplicate:
                await WebhookResponses.QueuedAsync(context, answer.MessageId, answer.Channel, answer.Kind == QueueAnswerKind.Duplicate);
                break;
            case QueueAnswerKind.NotFound:
                await WebhookResponses.UnknownEndpointAsync(context);
                break;
            case QueueAnswerKind.TooLarge:
                await WebhookResponses.TooLargeAsync(context);
                break;
            case QueueAnswerKind.Full:
                await WebhookResponses.QueueFullAsync(context, answer.RetryAfter);
                break;
            case QueueAnswerKind.Transient:
                activity?.SetTag("webhookconnect.spooled", true);
                switch (await spool.AppendAsync(message))
                {
                    case SpoolAppend.Written:
                        // Only after the write: the replayer must have a message to find the queue back with.
                        if (availability.MarkDown())
                        {
                            LogQueueDown(logger, answer.Detail ?? "");
                        }

                        await WebhookResponses.AcceptedAsync(context, message.MessageId);
                        break;
                    default:
                        await WebhookResponses.SpoolFullAsync(context, _options.UnavailableRetryAfter);
                        break;
                }

                break;
            default:
                LogPublishFailed(logger, message.MessageId, message.Channel, answer.Detail ?? "");
                await WebhookResponses.FailedAsync(context);
                break;
        }
    }

    /// <summary><c>/webhook/{id}</c> or <c>/webhook/{namespace}/{id}</c>, each segment non-empty.</summary>
    internal static bool TryRoute(PathString path, out string ns, out string id)
    {
        ns = "";
        id = "";
        var value = path.Value;
        if (value is null || !value.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = value.AsSpan(Prefix.Length);
        var slash = rest.IndexOf('/');
        if (slash < 0)
        {
            id = rest.ToString();
            return id.Length > 0;
        }

        var second = rest[(slash + 1)..];
        if (slash == 0 || second.Length == 0 || second.Contains('/'))
        {
            return false;
        }

        ns = rest[..slash].ToString();
        id = second.ToString();
        return true;
    }

    /// <summary>Header fields as received: a repeated name counts once per field line (HTTP/1.1) or field (HTTP/2,
    /// where <c>:authority</c> arrives as <c>Host</c> and the other pseudo-header fields do not count).</summary>
    private static int HeaderFieldCount(IHeaderDictionary headers)
    {
        var count = 0;
        foreach (var (_, values) in headers)
        {
            count += values.Count;
        }

        return count;
    }

    private static Message Capture(HttpContext context, CachedEndpoint endpoint, byte[] body, DateTimeOffset receivedAt, string source, in Verdict verdict, TimeSpan replayWindow)
    {
        var request = context.Request;
        var message = new Message
        {
            MessageId = Guid.CreateVersion7(receivedAt).ToString(),
            Channel = endpoint.Channel,
            EndpointId = endpoint.Id,
            EndpointNamespace = endpoint.Namespace,
            ReceivedAt = Timestamp.FromDateTimeOffset(receivedAt),
            Body = UnsafeByteOperations.UnsafeWrap(body),
            ContentType = request.ContentType ?? "",
            RemoteAddress = source,
            QueryString = request.QueryString.Value ?? "",
        };

        // Header values were decoded as Latin-1 (see IngressExtensions), so encoding them back gives the exact octets.
        // The static credential a preset verified is not kept: whoever reads the message could send webhooks with it.
        foreach (var (name, values) in request.Headers)
        {
            if (verdict.CredentialHeader is { } credential && string.Equals(name, credential, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (var value in values)
            {
                message.Headers.Add(new Header { Name = name, Value = UnsafeByteOperations.UnsafeWrap(Encoding.Latin1.GetBytes(value ?? "")) });
            }
        }

        DuplicateKeys.Fill(message, endpoint.IdempotencyHeader, request.Headers, verdict, receivedAt, replayWindow);

        // The server span of this request (ASP.NET Core's, or the sender's context when we are not sampling).
        if (Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity)
        {
            message.Traceparent = activity.Id ?? "";
            message.Tracestate = activity.TraceStateString ?? "";
        }
        else
        {
            message.Traceparent = request.Headers["traceparent"].ToString();
            message.Tracestate = request.Headers["tracestate"].ToString();
        }

        return message;
    }

    private static string Outcome(QueueAnswerKind kind) => kind switch
    {
        QueueAnswerKind.Queued => "queued",
        QueueAnswerKind.Duplicate => "duplicate",
        QueueAnswerKind.NotFound => "not_found",
        QueueAnswerKind.TooLarge => "too_large",
        QueueAnswerKind.Full => "full",
        QueueAnswerKind.Transient => "unavailable",
        _ => "failed",
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "a body for endpoint '{Endpoint}' was refused: the body bytes held by all requests would exceed Ingress:MaxBodyBytesInFlight ({Limit})")]
    private static partial void LogBodyBudgetFull(ILogger logger, string endpoint, long limit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the queue is unreachable ({Detail}); webhooks go to the spool")]
    private static partial void LogQueueDown(ILogger logger, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "publishing message {MessageId} to channel '{Channel}' failed: {Detail}")]
    private static partial void LogPublishFailed(ILogger logger, string messageId, string channel, string detail);
}

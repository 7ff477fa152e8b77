using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace WebhookConnect.Ingress.Intake;

/// <summary>
/// Every answer of the webhook endpoint (SPEC §4's table), in one place. Refusals say what kind of refusal it is
/// and nothing more: no hint of which check failed or why.
/// </summary>
public static class WebhookResponses
{
    public const string MessageIdHeader = "X-Webhook-Message-Id";

    public static Task QueuedAsync(HttpContext context, string messageId, string channel, bool duplicate)
    {
        // Ids are UUIDs and channel names match ^[a-z0-9][a-z0-9._-]*$: nothing in them needs JSON escaping.
        var body = duplicate
            ? $"{{\"status\":\"queued\",\"message_id\":\"{messageId}\",\"channel\":\"{channel}\",\"duplicate\":true}}"
            : $"{{\"status\":\"queued\",\"message_id\":\"{messageId}\",\"channel\":\"{channel}\"}}";
        context.Response.Headers[MessageIdHeader] = messageId;
        return WriteAsync(context, StatusCodes.Status200OK, body);
    }

    public static Task AcceptedAsync(HttpContext context, string messageId)
    {
        context.Response.Headers[MessageIdHeader] = messageId;
        return WriteAsync(context, StatusCodes.Status202Accepted, $"{{\"status\":\"accepted\",\"message_id\":\"{messageId}\"}}");
    }

    public static Task UnknownEndpointAsync(HttpContext context) => ErrorAsync(context, StatusCodes.Status404NotFound, "not found");

    public static Task MethodNotAllowedAsync(HttpContext context)
    {
        context.Response.Headers.Allow = "POST";
        return ErrorAsync(context, StatusCodes.Status405MethodNotAllowed, "method not allowed");
    }

    public static Task UnauthorizedAsync(HttpContext context) => ErrorAsync(context, StatusCodes.Status401Unauthorized, "unauthorized");

    public static Task ForbiddenAsync(HttpContext context) => ErrorAsync(context, StatusCodes.Status403Forbidden, "forbidden");

    public static Task RateLimitedAsync(HttpContext context, TimeSpan retryAfter) =>
        RetryLaterAsync(context, StatusCodes.Status429TooManyRequests, "rate limited", retryAfter);

    public static Task QueueFullAsync(HttpContext context, TimeSpan retryAfter) =>
        RetryLaterAsync(context, StatusCodes.Status503ServiceUnavailable, "queue full", retryAfter);

    public static Task SpoolFullAsync(HttpContext context, TimeSpan retryAfter) =>
        RetryLaterAsync(context, StatusCodes.Status503ServiceUnavailable, "unavailable", retryAfter);

    public static Task NotReadyAsync(HttpContext context, TimeSpan retryAfter) =>
        RetryLaterAsync(context, StatusCodes.Status503ServiceUnavailable, "unavailable", retryAfter);

    public static Task TooLargeAsync(HttpContext context)
    {
        // The rest of an oversized body is not read; the connection cannot be reused.
        context.Response.Headers.Connection = "close";
        return ErrorAsync(context, StatusCodes.Status413PayloadTooLarge, "payload too large");
    }

    /// <summary>The body bytes held by all requests are at <c>Ingress:MaxBodyBytesInFlight</c>.</summary>
    public static Task BodyBudgetFullAsync(HttpContext context, TimeSpan retryAfter)
    {
        // The rest of the body is not read; the connection cannot be reused.
        context.Response.Headers.Connection = "close";
        return RetryLaterAsync(context, StatusCodes.Status503ServiceUnavailable, "unavailable", retryAfter);
    }

    /// <summary>The body was not complete within <c>Ingress:BodyTimeout</c>.</summary>
    public static Task BodyTimeoutAsync(HttpContext context)
    {
        context.Response.Headers.Connection = "close";
        return ErrorAsync(context, StatusCodes.Status408RequestTimeout, "request timeout");
    }

    public static Task TooManyHeadersAsync(HttpContext context) =>
        ErrorAsync(context, StatusCodes.Status431RequestHeaderFieldsTooLarge, "request header fields too large");

    public static Task FailedAsync(HttpContext context) => ErrorAsync(context, StatusCodes.Status500InternalServerError, "internal error");

    /// <summary>Retry-After in whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3).</summary>
    public static string RetryAfterSeconds(TimeSpan delay) =>
        Math.Max(1, (long)Math.Ceiling(delay.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    private static Task RetryLaterAsync(HttpContext context, int status, string error, TimeSpan retryAfter)
    {
        context.Response.Headers.RetryAfter = RetryAfterSeconds(retryAfter);
        return ErrorAsync(context, status, error);
    }

    private static Task ErrorAsync(HttpContext context, int status, string error) =>
        WriteAsync(context, status, $"{{\"error\":\"{error}\"}}");

    private static Task WriteAsync(HttpContext context, int status, string json)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        var bytes = Encoding.UTF8.GetBytes(json);
        response.ContentLength = bytes.Length;
        return response.Body.WriteAsync(bytes).AsTask();
    }
}

using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.AspNetCore.Diagnostics;

namespace WebhookConnect.Admin.Api;

/// <summary>
/// The twin's one error shape and its one status mapping (docs/admin.md). Every 4xx and 5xx under the prefix has the
/// body <c>{"error": {"code": "NOT_FOUND", "http_status": 404, "message": "…"}}</c> with <see cref="TwinJson.ContentType"/>:
/// refusals and gRPC statuses from the handlers, and the answers routing gives without a handler (unknown path 404,
/// wrong method 405 with its <c>Allow</c> header), oversized or unreadable requests, and unexpected failures.
/// <c>code</c> is always a gRPC status name, so a script can switch on one vocabulary for both transports.
/// </summary>
public static class TwinErrors
{
    /// <summary>The error for a gRPC status (a refusal, bad input, or the queue-manager's answer).</summary>
    public static IResult Result(Status status)
    {
        var httpStatus = HttpStatus(status.StatusCode);
        return TwinJson.Result(Body(status.StatusCode, httpStatus, status.Detail), httpStatus);
    }

    /// <summary>The error body alone, for a stream that already answered 200 (the tail's last NDJSON line).</summary>
    public static string Json(Status status) => Body(status.StatusCode, HttpStatus(status.StatusCode), status.Detail);

    /// <summary>gRPC status → HTTP status. The table in docs/admin.md is this switch.</summary>
    public static int HttpStatus(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists or StatusCode.Aborted or StatusCode.FailedPrecondition => StatusCodes.Status409Conflict,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Cancelled => 499,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>
    /// Adds the error body to the answers that have none: routing's 404 and 405 (whose <c>Allow</c> header stays),
    /// Kestrel's 4xx for a request it cannot read (413 for a body over the limit), and an exception no handler caught.
    /// Only for requests on the twin's port under its prefix; other listeners keep their own answers.
    /// </summary>
    public static void UseTwinErrors(this IApplicationBuilder app, int httpPort) =>
        app.UseWhen(
            http => http.Connection.LocalPort == httpPort && http.Request.Path.StartsWithSegments(JsonTwin.Prefix, StringComparison.Ordinal),
            twin => twin
                .UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = InternalErrorAsync })
                .UseStatusCodePages(page => WithoutBodyAsync(page.HttpContext)));

    private static Task WithoutBodyAsync(HttpContext http)
    {
        var request = http.Request;
        var httpStatus = http.Response.StatusCode;
        var (code, message) = httpStatus switch
        {
            StatusCodes.Status404NotFound => (StatusCode.NotFound, $"no such path: {request.Method} '{request.Path}'"),
            StatusCodes.Status405MethodNotAllowed => (StatusCode.Unimplemented,
                $"method {request.Method} is not allowed on '{request.Path}' (allowed: {http.Response.Headers.Allow})"),
            StatusCodes.Status413PayloadTooLarge => (StatusCode.ResourceExhausted, "the request body is too large"),
            _ => (httpStatus < 500 ? StatusCode.InvalidArgument : StatusCode.Internal, $"the request failed with HTTP status {httpStatus}"),
        };
        return WriteAsync(http, code, httpStatus, message);
    }

    private static Task InternalErrorAsync(HttpContext http) =>
        // The exception is logged by the middleware; its text may hold internals, so the body does not repeat it.
        WriteAsync(http, StatusCode.Internal, StatusCodes.Status500InternalServerError, "internal error; the admin service's log has the details");

    private static Task WriteAsync(HttpContext http, StatusCode code, int httpStatus, string message)
    {
        http.Response.StatusCode = httpStatus;
        http.Response.ContentType = TwinJson.ContentType;
        return http.Response.WriteAsync(Body(code, httpStatus, message), http.RequestAborted);
    }

    private static string Body(StatusCode code, int httpStatus, string message) => TwinJson.Format(new JsonObject
    {
        ["error"] = new JsonObject
        {
            ["code"] = CodeName(code),
            ["http_status"] = httpStatus,
            ["message"] = message,
        },
    });

    /// <summary>The canonical gRPC name (google.rpc.Code), as grpcurl prints it.</summary>
    public static string CodeName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.Unknown => "UNKNOWN",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => "INTERNAL",
    };
}

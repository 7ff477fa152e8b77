using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace WebhookConnect.ServiceDefaults.Grpc;

/// <summary>
/// Ends a gRPC request from middleware, before any service runs, as a trailers-only response (PROTOCOL-HTTP2:
/// HTTP 200, <c>content-type: application/grpc</c>, <c>grpc-status</c> and <c>grpc-message</c> in the headers).
/// Used where no interceptor can run: a method refused because of the port it arrived on.
/// </summary>
public static class GrpcStatusResponse
{
    public static Task WriteAsync(HttpContext http, Status status)
    {
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)status.StatusCode).ToString(CultureInfo.InvariantCulture);
        if (status.Detail.Length > 0)
        {
            response.Headers["grpc-message"] = Uri.EscapeDataString(status.Detail);
        }

        return response.CompleteAsync();
    }
}

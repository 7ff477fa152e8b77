using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Admin.Authentication;
using WebhookConnect.Admin.Telemetry;


namespace WebhookConnect.Admin.Api;

/// <summary>
/// Calls the queue-manager on behalf of an operator: the internal token, the caller's deadline and cancellation,
/// statuses passed through unchanged (so INVALID_ARGUMENT names the same field), UNAVAILABLE when the queue-manager
/// cannot be reached, and one audit line per mutating call (who, what, which channel, outcome; never a secret).
/// </summary>
public sealed partial class AdminForwarder(IOptions<AdminOptions> options, AdminMetrics metrics, ILogger<AdminForwarder> audit)
{
    private static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(30);
    private readonly string _internalToken = options.Value.QueueManagerToken;

    /// <summary>For a gRPC call: its deadline and cancellation travel on.</summary>
    public Task<TResponse> ForwardAsync<TResponse>(ServerCallContext context, string method, string channel, bool mutating, Func<CallOptions, Task<TResponse>> call) =>
        ForwardAsync(context.GetHttpContext(), context.Deadline, context.CancellationToken, method, channel, mutating, call);

    /// <summary>For a call of either transport (the JSON twin passes its request's context).</summary>
    public async Task<TResponse> ForwardAsync<TResponse>(
        HttpContext http, DateTime callerDeadline, CancellationToken cancellationToken, string method, string channel, bool mutating, Func<CallOptions, Task<TResponse>> call)
    {
        var headers = new Metadata();
        if (_internalToken.Length > 0)
        {
            headers.Add("authorization", "Bearer " + _internalToken);
        }

        var deadline = callerDeadline == DateTime.MaxValue ? DateTime.UtcNow + DefaultDeadline : callerDeadline;
        var caller = http.Items[AdminAuthentication.CallerItem] as string ?? "unknown";
        try
        {
            var response = await call(new CallOptions(headers, deadline, cancellationToken));
            metrics.Request(method, StatusCode.OK);
            if (mutating)
            {
                LogAudit(audit, caller, method, channel, "OK");
            }

            return response;
        }
        catch (RpcException ex)
        {
            metrics.Request(method, ex.StatusCode);
            if (mutating)
            {
                LogAudit(audit, caller, method, channel, ex.StatusCode.ToString());
            }

            // The queue-manager's own status and message, without its trailers; an unreachable queue-manager is
            // already UNAVAILABLE from the client.
            throw new RpcException(ex.Status.StatusCode == StatusCode.Unauthenticated
                ? new Status(StatusCode.Unavailable, "the admin service is not authorised by the queue-manager (check Admin:QueueManagerToken)")
                : ex.Status);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, EventName = "Audit", Message = "audit: {Caller} called {Method} on channel '{Channel}': {Outcome}")]
    private static partial void LogAudit(ILogger logger, string caller, string method, string channel, string outcome);
}

using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Admin.Authentication;
using WebhookConnect.Admin.Telemetry;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Admin.Api;

/// <summary>
/// Calls the queue-manager on behalf of an operator: the internal token, the caller's deadline and cancellation,
/// statuses passed through unchanged (so INVALID_ARGUMENT names the same field), UNAVAILABLE when the queue-manager
/// cannot be reached. On the way back it leaves message contents out for a caller without the contents permission,
/// and audits every change (with its parameters) and every read of message contents.
/// </summary>
public sealed class AdminForwarder(IOptions<AdminOptions> options, AdminMetrics metrics, AdminAudit audit)
{
    private static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(30);
    private readonly string _internalToken = options.Value.EffectiveQueueManagerToken();

    /// <summary>For a gRPC call: its deadline and cancellation travel on.</summary>
    public Task<TResponse> ForwardAsync<TResponse>(ServerCallContext context, IMessage request, Func<CallOptions, Task<TResponse>> call)
        where TResponse : IMessage =>
        ForwardAsync(context.GetHttpContext(), context.Deadline, context.CancellationToken, context.Method[(context.Method.LastIndexOf('/') + 1)..], request, call);

    /// <summary>For a call of either transport (the JSON twin passes its request's context), already authorised.</summary>
    public async Task<TResponse> ForwardAsync<TResponse>(
        HttpContext http, DateTime callerDeadline, CancellationToken cancellationToken, string method, IMessage request, Func<CallOptions, Task<TResponse>> call)
        where TResponse : IMessage
    {
        var headers = new Metadata();
        if (_internalToken.Length > 0)
        {
            headers.Add("authorization", "Bearer " + _internalToken);
        }

        var deadline = callerDeadline == DateTime.MaxValue ? DateTime.UtcNow + DefaultDeadline : callerDeadline;
        var caller = http.Items[AdminAuthentication.CallerItem] as AdminCaller ?? throw new InvalidOperationException("an admin call reached the forwarder unauthenticated");
        var channel = AdminAuthentication.Channel(request);
        var permission = AdminPermissions.Of(method);
        var readsContents = AdminPermissions.MayReturnContents(method) && caller.Holds(Permission.ReadContents);
        try
        {
            var response = await call(new CallOptions(headers, deadline, cancellationToken));
            metrics.Request(method, StatusCode.OK);
            Audit(caller, method, channel, permission, readsContents, StatusCode.OK, request);
            if (!caller.Holds(Permission.ReadContents))
            {
                LeaveOutContents(response);
            }

            return response;
        }
        catch (RpcException ex)
        {
            metrics.Request(method, ex.StatusCode);
            Audit(caller, method, channel, permission, readsContents, ex.StatusCode, request);

            // The queue-manager's own status and message, without its trailers; an unreachable queue-manager is
            // already UNAVAILABLE from the client.
            throw new RpcException(ex.Status.StatusCode == StatusCode.Unauthenticated
                ? new Status(StatusCode.Unavailable, "the admin service is not authorised by the queue-manager (check Admin:QueueManagerToken or Admin:QueueManagerTokenFile)")
                : ex.Status);
        }
    }

    /// <summary>For a server-streaming gRPC call (TailChannel): every response is written on to the caller.</summary>
    public Task ForwardStreamAsync<TResponse>(ServerCallContext context, IMessage request, Func<CallOptions, AsyncServerStreamingCall<TResponse>> call, IServerStreamWriter<TResponse> responses)
        where TResponse : IMessage =>
        ForwardStreamAsync(
            context.GetHttpContext(), context.Deadline, context.CancellationToken, context.Method[(context.Method.LastIndexOf('/') + 1)..], request, call,
            (response, _) => responses.WriteAsync(response));

    /// <summary>
    /// A server-streaming call of either transport, already authorised: <paramref name="write"/> gets each response
    /// (contents left out for a caller without the contents permission) together with its number (0 for the first), so
    /// the JSON twin can hold its headers back until the first event and still answer an early refusal with its status.
    /// The caller's deadline travels on, but no default deadline is added: a tail lasts as long as its caller stays.
    /// When the caller goes, its cancellation token cancels the upstream call; the queue-manager's status (such as
    /// RESOURCE_EXHAUSTED for a reader that fell behind) is passed through as for unary calls.
    /// </summary>
    public async Task ForwardStreamAsync<TResponse>(
        HttpContext http, DateTime callerDeadline, CancellationToken cancellationToken, string method, IMessage request,
        Func<CallOptions, AsyncServerStreamingCall<TResponse>> call, Func<TResponse, long, Task> write)
        where TResponse : IMessage
    {
        var headers = new Metadata();
        if (_internalToken.Length > 0)
        {
            headers.Add("authorization", "Bearer " + _internalToken);
        }

        var caller = http.Items[AdminAuthentication.CallerItem] as AdminCaller ?? throw new InvalidOperationException("an admin call reached the forwarder unauthenticated");
        var channel = AdminAuthentication.Channel(request);
        var permission = AdminPermissions.Of(method);
        var readsContents = AdminPermissions.MayReturnContents(method) && caller.Holds(Permission.ReadContents);
        var stripContents = !caller.Holds(Permission.ReadContents);
        var result = StatusCode.OK;
        try
        {
            using var upstream = call(new CallOptions(headers, callerDeadline == DateTime.MaxValue ? null : callerDeadline, cancellationToken));
            long sent = 0;
            while (await upstream.ResponseStream.MoveNext(cancellationToken))
            {
                var response = upstream.ResponseStream.Current;
                if (stripContents)
                {
                    LeaveOutContents(response);
                }

                await write(response, sent++);
            }
        }
        catch (RpcException ex)
        {
            result = ex.StatusCode;
            throw new RpcException(ex.Status.StatusCode == StatusCode.Unauthenticated
                ? new Status(StatusCode.Unavailable, "the admin service is not authorised by the queue-manager (check Admin:QueueManagerToken or Admin:QueueManagerTokenFile)")
                : ex.Status);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller went away: the upstream call is cancelled with it; nobody is left to answer.
            result = StatusCode.Cancelled;
            throw;
        }
        finally
        {
            metrics.Request(method, result);
            Audit(caller, method, channel, permission, readsContents, result, request);
        }
    }

    private void Audit(AdminCaller caller, string method, string channel, Permission permission, bool readsContents, StatusCode result, IMessage request)
    {
        if (permission == Permission.Write)
        {
            audit.Changed(caller.Id, method, channel, result, request);
        }
        else if (readsContents)
        {
            audit.ReadContents(caller.Id, method, channel, result);
        }
    }

    /// <summary>
    /// Clears the contents (body, headers, query string) of every <see cref="Message"/> in a response, wherever it
    /// is nested; <c>body_size</c> and the other metadata stay. Found through the descriptors, so a new response that
    /// carries messages is covered without a change here.
    /// </summary>
    internal static void LeaveOutContents(IMessage message)
    {
        if (message is Message envelope)
        {
            envelope.LeaveOutContents();
            return;
        }

        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            if (field.FieldType != Google.Protobuf.Reflection.FieldType.Message || field.IsMap)
            {
                continue;
            }

            switch (field.Accessor.GetValue(message))
            {
                case IMessage child:
                    LeaveOutContents(child);
                    break;
                case System.Collections.IList items:
                    foreach (var item in items.OfType<IMessage>())
                    {
                        LeaveOutContents(item);
                    }

                    break;
            }
        }
    }
}

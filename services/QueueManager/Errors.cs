using Grpc.Core;
using StackExchange.Redis;
using WebhookConnect.QueueManager.Channels;

namespace WebhookConnect.QueueManager;

/// <summary>
/// The one mapping from the queue-manager's failures to gRPC statuses. Domain refusals (<see cref="ChannelException"/>)
/// carry their own status; Redis unreachable, slow, loading or failing over is UNAVAILABLE (transient: ingress
/// spools, connectors reconnect, admin callers retry); anything else escaping a handler is a bug (UNKNOWN/INTERNAL).
/// </summary>
public static class Errors
{
    public static StatusCode ToStatusCode(ChannelFailure failure) => failure switch
    {
        ChannelFailure.Invalid => StatusCode.InvalidArgument,
        ChannelFailure.NotFound => StatusCode.NotFound,
        ChannelFailure.AlreadyExists => StatusCode.AlreadyExists,
        ChannelFailure.Precondition => StatusCode.FailedPrecondition,
        ChannelFailure.Contended => StatusCode.Aborted,
        _ => StatusCode.Internal,
    };

    /// <summary>Runs a handler body and turns failures into the status the API documents.</summary>
    public static async Task<T> GuardAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (ChannelException ex)
        {
            throw new RpcException(new Status(ToStatusCode(ex.Failure), ex.Message));
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }

    /// <inheritdoc cref="GuardAsync{T}(Func{Task{T}})"/>
    public static async Task GuardAsync(Func<Task> call) =>
        await GuardAsync(async () =>
        {
            await call();
            return true;
        });

    /// <summary>Redis cannot serve right now, for a reason that passes: unreachable, timed out, loading its data
    /// after a restart, a replica or cluster node failing over, out of memory.</summary>
    public static bool IsRedisFailure(Exception exception) => exception switch
    {
        RedisConnectionException or RedisTimeoutException or TimeoutException => true,
        RedisServerException server => server.Message.StartsWith("LOADING", StringComparison.Ordinal)
            || server.Message.StartsWith("BUSY", StringComparison.Ordinal)
            || server.Message.StartsWith("READONLY", StringComparison.Ordinal)
            || server.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
            || server.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
            || server.Message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal)
            // Redis at maxmemory with noeviction: nothing can be written until memory frees up (or an operator
            // raises the limit); ingress spools meanwhile. Scripts fail before their first write, so nothing is half-done.
            || server.Message.StartsWith("OOM", StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>The status for a Redis failure. The message is fixed: callers (connectors, even unauthenticated
    /// ones) learn nothing about Redis' addresses or keys; the replica's own logs carry the details.</summary>
    public static RpcException Unavailable(Exception exception) =>
        new(new Status(
            StatusCode.Unavailable,
            exception.Message.StartsWith("OOM", StringComparison.Ordinal)
                ? "the queue store is out of memory; retry later"
                : "the queue store (Redis) is unreachable or not ready; retry later"));

    /// <summary>The HTTP status of a refusal on the HTTP/1.1 connector paths (docs/queue-manager.md).</summary>
    public static int ToHttpStatus(StatusCode code) => code switch
    {
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.InvalidArgument => StatusCodes.Status422UnprocessableEntity,
        StatusCode.Aborted => StatusCodes.Status409Conflict,
        _ => StatusCodes.Status503ServiceUnavailable,
    };
}

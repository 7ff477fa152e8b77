using Grpc.Core;
using StackExchange.Redis;

namespace WebhookConnect.QueueManager.Channels;

/// <summary>Why a channel operation was refused, independent of the transport that reports it.</summary>
public enum ChannelFailure
{
    /// <summary>A malformed request: a name, a value out of range, a missing secret.</summary>
    Invalid,
    NotFound,
    AlreadyExists,
    /// <summary>The request is well-formed but the channel's state forbids it (removing its last endpoint).</summary>
    Precondition,
    /// <summary>Concurrent writers kept changing the channel while this change was being applied.</summary>
    Contended,
}

/// <summary>A refused channel operation. The message is written for the operator: it names the field and the value.</summary>
public sealed class ChannelException(ChannelFailure failure, string message) : Exception(message)
{
    public ChannelFailure Failure { get; } = failure;

    public static ChannelException Invalid(string message) => new(ChannelFailure.Invalid, message);

    public static ChannelException ChannelNotFound(string channel) => new(ChannelFailure.NotFound, $"channel \"{channel}\" does not exist");
}

/// <summary>
/// The one mapping from channel failures (and Redis being unreachable) to gRPC statuses, used by every service
/// that exposes channel operations (QueueAdminService, PublishService's endpoint lookups).
/// </summary>
public static class ChannelErrors
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

    /// <summary>Runs a handler body and turns domain failures into the status the API documents.</summary>
    public static async Task<T> GuardAsync<T>(Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (ChannelException ex)
        {
            throw new RpcException(new Status(ToStatusCode(ex.Failure), ex.Message));
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException)
        {
            // Transient by definition (SPEC §8: UNAVAILABLE when Redis is unreachable); callers retry.
            throw new RpcException(new Status(StatusCode.Unavailable, "Redis is unreachable: " + ex.Message));
        }
    }

    /// <inheritdoc cref="GuardAsync{T}(Func{Task{T}})"/>
    public static async Task GuardAsync(Func<Task> action) =>
        await GuardAsync(async () =>
        {
            await action();
            return true;
        });
}

using Grpc.Core;
using StackExchange.Redis;

namespace WebhookConnect.QueueManager;

/// <summary>How infrastructure failures surface to callers: Redis unreachable or slow is UNAVAILABLE (transient:
/// ingress spools, connectors reconnect), never UNKNOWN.</summary>
public static class Errors
{
    public static async Task<T> GuardAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }

    public static bool IsRedisFailure(Exception exception) => exception is RedisException or TimeoutException;

    public static RpcException Unavailable(Exception exception) =>
        new(new Status(StatusCode.Unavailable, $"Redis is unreachable or too slow: {exception.Message}"));
}

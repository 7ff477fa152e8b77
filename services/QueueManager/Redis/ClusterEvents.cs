using StackExchange.Redis;

namespace WebhookConnect.QueueManager.Redis;

/// <summary>
/// The replicas' shared event feed over Redis pub/sub (<see cref="GlobalKeys.Events"/>). Publishing goes to every
/// replica, this one included. Delivery is best effort: a listener must also work from Redis state alone (sweeps,
/// refreshes) and treat <see cref="Reconnected"/> as "you may have missed events".
/// </summary>
public sealed partial class ClusterEvents(IConnectionMultiplexer redis, ILogger<ClusterEvents> logger) : IHostedService
{
    private readonly Lock _gate = new();
    private Action<ClusterEvent>[] _listeners = [];

    /// <summary>Raised after the connection to Redis was restored; events published meanwhile are lost.</summary>
    public event Action? Reconnected;

    /// <summary>Registers a listener; listeners run one event at a time, in order, and must not block. Dispose to unregister.</summary>
    public IDisposable Listen(Action<ClusterEvent> listener)
    {
        lock (_gate)
        {
            _listeners = [.. _listeners, listener];
        }

        return new Registration(this, listener);
    }

    public Task PublishAsync(ClusterEvent clusterEvent) =>
        redis.GetSubscriber().PublishAsync(GlobalKeys.Events, clusterEvent.Serialize());

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored += OnConnectionRestored;
        // The message queue delivers events one at a time in the order Redis sent them; the handler overload of
        // SubscribeAsync would run each on the thread pool, in any order.
        var events = await redis.GetSubscriber().SubscribeAsync(GlobalKeys.Events);
        events.OnMessage(message => Dispatch(message.Message));
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored -= OnConnectionRestored;
        return Task.CompletedTask;
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            Reconnected?.Invoke();
        }
    }

    private void Dispatch(RedisValue value)
    {
        if (!ClusterEvent.TryParse(value, out var clusterEvent))
        {
            LogMalformed(logger, value.ToString());
            return;
        }

        foreach (var listener in Volatile.Read(ref _listeners))
        {
            try
            {
                listener(clusterEvent);
            }
            catch (Exception ex)
            {
                LogListenerFailed(logger, ex, clusterEvent.Kind);
            }
        }
    }

    private void Remove(Action<ClusterEvent> listener)
    {
        lock (_gate)
        {
            _listeners = [.. _listeners.Where(l => l != listener)];
        }
    }

    private sealed class Registration(ClusterEvents owner, Action<ClusterEvent> listener) : IDisposable
    {
        public void Dispose() => owner.Remove(listener);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a malformed cluster event {Payload}")]
    private static partial void LogMalformed(ILogger logger, string payload);

    [LoggerMessage(Level = LogLevel.Error, Message = "A cluster event listener failed on {Kind}")]
    private static partial void LogListenerFailed(ILogger logger, Exception exception, ClusterEventKind kind);
}

using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Redis;
using WebhookConnect.QueueManager.Telemetry;

namespace WebhookConnect.QueueManager.Streams;

/// <summary>
/// The Connect streams this replica holds. It routes cluster events to them (wake-ups, config changes, deletes,
/// admin disconnects), keeps their registrations alive in Redis (so <c>max_connections</c> counts them and stops
/// counting them within <c>ConnectionLiveness</c> of a crash), closes streams whose token stopped being valid, and
/// drains them all on shutdown.
/// </summary>
public sealed partial class ConnectionRegistry(
    MessageQueue queue,
    ClusterEvents events,
    IConnectionMultiplexer redis,
    ReplicaIdentity replica,
    IOptions<QueueManagerOptions> options,
    IHostApplicationLifetime lifetime,
    QueueMetrics metrics,
    ILogger<ConnectionRegistry> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, StreamConnection> _connections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ChannelConfig> _configs = new(StringComparer.Ordinal);
    private readonly QueueManagerOptions _options = options.Value;

    public int Count => _connections.Count;

    /// <summary>True once shutdown began: new streams are refused with UNAVAILABLE.</summary>
    public bool Draining { get; private set; }

    public IEnumerable<StreamConnection> All => _connections.Values;

    /// <summary>Registers the stream in Redis (global limit) and here. Throws the right RpcException when refused.</summary>
    public async Task AddAsync(StreamConnection connection, ChannelConfig config)
    {
        var status = await queue.RegisterConnectionAsync(connection.Channel, connection.Snapshot(), _options.ConnectionLiveness);
        switch (status)
        {
            case RegisterStatus.ChannelNotFound:
                throw new RpcException(new Status(StatusCode.NotFound, $"channel '{connection.Channel}' does not exist"));
            case RegisterStatus.Full:
                throw new RpcException(new Status(
                    StatusCode.ResourceExhausted,
                    $"channel '{connection.Channel}' already has its maximum of {config.MaxConnections} connections (max_connections), counted across all replicas"));
        }

        _connections[connection.Id] = connection;
        // Re-read after joining the registry: a change made between the caller's read and now had no stream to reach,
        // and a change made after this read reaches the stream through its event. The token is checked again against
        // this read, so a rotation without grace (or a delete) that raced the registration takes effect at once
        // rather than at the next refresh (issue 20, finding 8). The caller's older read is never cached: it could
        // overwrite a newer one an event just stored.
        var fresh = await queue.GetConfigAsync(connection.Channel)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"channel '{connection.Channel}' was deleted"));
        Remember(fresh);
        if (!ChannelTokens.MatchesHash(fresh, connection.TokenHash, DateTimeOffset.UtcNow, out var generation))
        {
            LogTokenRevoked(logger, connection.Id, connection.Channel);
            throw new RpcException(new Status(StatusCode.Unauthenticated, TokenRevoked(connection.Channel)));
        }

        connection.Info.Token = generation;
        connection.Apply(fresh);
        await redis.GetDatabase().HashSetAsync(GlobalKeys.ConnectionIndex, connection.Id, connection.Channel);
        LogConnected(logger, connection.Id, connection.Channel, connection.Info.ConnectorId, connection.Info.MaxInFlight);
    }

    /// <summary>Forgets the stream and gives its leases back at once (SPEC §6: a closed stream releases its leases).</summary>
    public async Task RemoveAsync(StreamConnection connection, string why)
    {
        connection.Closed = true;
        _connections.TryRemove(connection.Id, out _);
        var leased = connection.LeasedIds();
        try
        {
            var released = await queue.ReleaseAsync(connection.Channel, connection.Id, leased);
            await queue.UnregisterConnectionAsync(connection.Channel, connection.Id);
            await redis.GetDatabase().HashDeleteAsync(GlobalKeys.ConnectionIndex, connection.Id);
            LogDisconnected(logger, connection.Id, connection.Channel, why, released);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Redis is down: the leases expire after ack_timeout and the registration after ConnectionLiveness.
            LogReleaseFailed(logger, ex, connection.Id, leased.Length);
        }
    }

    public bool TryGet(string connectionId, out StreamConnection connection) => _connections.TryGetValue(connectionId, out connection!);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        metrics.ObserveConnectionsWith(() => _connections.Values.GroupBy(c => (c.Channel, c.Protocol)).Select(g => (g.Key.Channel, g.Key.Protocol, g.Count())));
        using var listener = events.Listen(OnEvent);
        events.Reconnected += OnReconnected;
        using var stopping = lifetime.ApplicationStopping.Register(() => _ = DrainAllAsync());
        try
        {
            var refreshEvery = _options.ConnectionLiveness / 3;
            var leaseMargin = (2 * _options.SweepInterval) + TimeSpan.FromSeconds(1);
            var lastRefresh = DateTimeOffset.MinValue;
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = DateTimeOffset.UtcNow;
                foreach (var connection in _connections.Values)
                {
                    connection.ForgetExpiredLeases(now, leaseMargin);
                    CheckToken(connection, now);
                }

                if (now - lastRefresh >= refreshEvery)
                {
                    lastRefresh = now;
                    await RefreshAsync(now);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            events.Reconnected -= OnReconnected;
        }
    }

    private async Task RefreshAsync(DateTimeOffset now)
    {
        try
        {
            foreach (var connection in _connections.Values)
            {
                if (connection.Closed)
                {
                    continue;
                }

                if (!await queue.TouchConnectionAsync(connection.Channel, connection.Snapshot(), connection.ChannelCreatedAt, _options.ConnectionLiveness))
                {
                    connection.Close(new Status(StatusCode.NotFound, $"channel '{connection.Channel}' was deleted"));
                }
                else if (connection.Closed)
                {
                    // The stream ended while this refresh was in flight and may have re-added the registration after
                    // its removal: remove it again, so it does not hold a max_connections slot.
                    await queue.UnregisterConnectionAsync(connection.Channel, connection.Id);
                }
            }

            // Events are hints: re-read the config of every channel with streams here, so a lost pause, resume or
            // token rotation still reaches them within one refresh.
            foreach (var channel in _connections.Values.Select(c => c.Channel).Distinct(StringComparer.Ordinal).ToArray())
            {
                await ReloadAsync(channel);
            }

            var heartbeat = new Replica
            {
                ReplicaId = replica.Id,
                StartedAt = Timestamp.FromDateTimeOffset(replica.StartedAt),
                LastSeenAt = Timestamp.FromDateTimeOffset(now),
                Connections = (uint)_connections.Count,
                Version = typeof(ConnectionRegistry).Assembly.GetName().Version?.ToString() ?? "",
            };
            await redis.GetDatabase().HashSetAsync(GlobalKeys.Replicas, replica.Id, heartbeat.ToByteArray());
            await redis.GetDatabase().SortedSetAddAsync(GlobalKeys.ReplicasAlive, replica.Id, now.ToUnixTimeMilliseconds());
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRefreshFailed(logger, ex.Message);
        }
    }

    private void CheckToken(StreamConnection connection, DateTimeOffset now)
    {
        if (!_configs.TryGetValue(connection.Channel, out var config))
        {
            return;
        }

        if (!ChannelTokens.MatchesHash(config, connection.TokenHash, now, out var generation))
        {
            LogTokenRevoked(logger, connection.Id, connection.Channel);
            connection.Close(new Status(StatusCode.Unauthenticated, TokenRevoked(connection.Channel)));
            return;
        }

        connection.Info.Token = generation;
    }

    /// <summary>The channel's settings as this replica's open streams see them: cached while the replica has a stream on
    /// the channel, kept current by the channel's change events and the periodic refresh.</summary>
    public bool TryGetCachedConfig(string channel, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ChannelConfig? config) =>
        _configs.TryGetValue(channel, out config);

    /// <summary>Caches a config read unless a newer one (a later <c>updated_ms</c>, the channel's version) is cached
    /// already: reads finish out of order. Returns the config now cached.</summary>
    private ChannelConfig Remember(ChannelConfig read) =>
        _configs.AddOrUpdate(read.Name, read, (_, cached) => cached.UpdatedAt > read.UpdatedAt ? cached : read);

    private static string TokenRevoked(string channel) =>
        $"the token this stream authenticated with is no longer valid for channel '{channel}' (rotated, grace period over); reconnect with the current token";

    private void OnEvent(ClusterEvent clusterEvent)
    {
        switch (clusterEvent.Kind)
        {
            case ClusterEventKind.Wake:
                foreach (var connection in _connections.Values)
                {
                    if (connection.Channel == clusterEvent.Channel)
                    {
                        connection.Wake();
                    }
                }

                break;
            case ClusterEventKind.ChannelChanged:
                _ = ReloadAsync(clusterEvent.Channel);
                break;
            case ClusterEventKind.ChannelDeleted:
                _configs.TryRemove(clusterEvent.Channel, out _);
                foreach (var connection in _connections.Values)
                {
                    if (connection.Channel == clusterEvent.Channel)
                    {
                        connection.Close(new Status(StatusCode.NotFound, $"channel '{clusterEvent.Channel}' was deleted"));
                    }
                }

                break;
            case ClusterEventKind.Disconnect:
                if (_connections.TryGetValue(clusterEvent.ConnectionId, out var target))
                {
                    LogAdminDisconnect(logger, target.Id, target.Channel, clusterEvent.Text);
                    target.Close(new Status(StatusCode.Aborted, $"disconnected by an operator: {clusterEvent.Text}"));
                }

                break;
        }
    }

    private void OnReconnected()
    {
        foreach (var channel in _configs.Keys)
        {
            _ = ReloadAsync(channel);
        }
    }

    private async Task ReloadAsync(string channel)
    {
        try
        {
            var config = await queue.GetConfigAsync(channel);
            if (config is null)
            {
                return;
            }

            config = Remember(config);
            var now = DateTimeOffset.UtcNow;
            foreach (var connection in _connections.Values)
            {
                if (connection.Channel == channel)
                {
                    connection.Apply(config);
                    CheckToken(connection, now);
                }
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRefreshFailed(logger, ex.Message);
        }
    }

    private async Task DrainAllAsync()
    {
        Draining = true;
        var connections = _connections.Values.ToArray();
        if (connections.Length == 0)
        {
            return;
        }

        LogDraining(logger, connections.Length, _options.DrainGracePeriod.TotalSeconds);
        await Task.WhenAll(connections.Select(c => c.DrainAsync("server shutting down", _options.DrainGracePeriod)));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} opened on channel {Channel} by connector {ConnectorId} (max in flight {MaxInFlight})")]
    private static partial void LogConnected(ILogger logger, string connectionId, string channel, string connectorId, uint maxInFlight);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} on channel {Channel} closed ({Why}); {Released} leased messages released")]
    private static partial void LogDisconnected(ILogger logger, string connectionId, string channel, string why, int released);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {ConnectionId} closed while Redis is unreachable: its {Leased} leases will expire after ack_timeout")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, string connectionId, int leased);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not refresh connection registrations in Redis: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} on channel {Channel}: its token is no longer valid; closing")]
    private static partial void LogTokenRevoked(ILogger logger, string connectionId, string channel);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} on channel {Channel} disconnected by an operator: {Reason}")]
    private static partial void LogAdminDisconnect(ILogger logger, string connectionId, string channel, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutting down: draining {Count} Connect streams (grace {GraceSeconds} s)")]
    private static partial void LogDraining(ILogger logger, int count, double graceSeconds);
}

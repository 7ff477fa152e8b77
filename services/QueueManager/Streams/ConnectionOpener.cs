using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Telemetry;

namespace WebhookConnect.QueueManager.Streams;

/// <summary>What a connector asks for when it connects, whatever the protocol.</summary>
public sealed record ConnectionRequest(
    string Channel,
    string Token,
    string Protocol,
    string RemoteAddress,
    string ConnectorId = "",
    string ConnectorVersion = "",
    uint MaxInFlight = 0,
    IReadOnlyDictionary<string, string>? Labels = null,
    bool ExpectsClientFrames = true);

/// <summary>
/// Opens a connection for every connector protocol (gRPC Connect, WebSocket, SSE, long-poll) the same way: refused
/// while draining, channel looked up, token checked, registered for <c>max_connections</c> across replicas and
/// protocols. Refusals are <see cref="RpcException"/>s (the registry's language); the HTTP/1.1 protocols map them
/// with <see cref="Errors"/>. The caller runs the returned connection and must hand it to
/// <see cref="ConnectionRegistry.RemoveAsync"/> when it ends, which releases its leases.
/// </summary>
public sealed class ConnectionOpener(
    MessageQueue queue,
    ConnectionRegistry registry,
    ReplicaIdentity replica,
    IOptions<QueueManagerOptions> options,
    QueueMetrics metrics,
    ILogger<StreamConnection> connectionLogger)
{
    private readonly QueueManagerOptions _options = options.Value;

    /// <summary>The first frame of every session, whatever its protocol: what the connection was granted.</summary>
    public ConnectResponse Subscribed(StreamConnection connection, ChannelConfig config) => new()
    {
        Subscribed = new Subscribed
        {
            ConnectionId = connection.Id,
            HeartbeatInterval = Duration.FromTimeSpan(_options.HeartbeatInterval),
            AckTimeout = Duration.FromTimeSpan(config.AckTimeout),
            MaxInFlight = connection.Info.MaxInFlight,
            ReplicaId = replica.Id,
            Paused = config.Paused,
        },
    };

    /// <summary>A draining replica takes no new connection; a protocol may ask before it reads anything.</summary>
    public void RefuseWhileDraining()
    {
        if (registry.Draining)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"queue-manager replica {replica.Id} is shutting down; connect to another replica"));
        }
    }

    public async Task<(StreamConnection Connection, ChannelConfig Config)> OpenAsync(ConnectionRequest request)
    {
        RefuseWhileDraining();

        // Authenticated before any per-channel state is made (issue 20, finding 2): reading a config caches nothing for
        // a name that does not exist. An unknown channel is NOT_FOUND as SPEC §7 says; channel names are not secrets
        // (docs/security.md), the tokens are.
        var config = await Errors.GuardAsync(() => queue.GetConfigAsync(request.Channel))
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"channel '{request.Channel}' does not exist"));
        if (!ChannelTokens.Matches(config, request.Token, DateTimeOffset.UtcNow, out var generation))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"the token is not valid for channel '{request.Channel}'"));
        }

        var maxInFlight = StreamConnection.EffectiveMaxInFlight(request.MaxInFlight, config);
        var info = new Connection
        {
            ConnectionId = "conn_" + Guid.CreateVersion7().ToString("N"),
            Channel = request.Channel,
            ConnectorId = request.ConnectorId,
            ConnectorVersion = request.ConnectorVersion,
            ReplicaId = replica.Id,
            RemoteAddress = request.RemoteAddress,
            ConnectedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            MaxInFlight = (uint)maxInFlight,
            Token = generation,
            Protocol = request.Protocol,
        };
        if (request.Labels is not null)
        {
            foreach (var (key, value) in request.Labels)
            {
                info.Labels[key] = value;
            }
        }

        var connection = new StreamConnection(info, request.MaxInFlight, config.CreatedAt, ChannelTokens.Hash(request.Token), queue, metrics, _options.HeartbeatInterval, _options.StreamBufferBytes, connectionLogger)
        {
            ExpectsClientFrames = request.ExpectsClientFrames,
        };
        try
        {
            await Errors.GuardAsync(() => registry.AddAsync(connection, config));
        }
        catch (RpcException ex)
        {
            // Whatever failed after the registration in Redis, the slot is given back.
            await registry.RemoveAsync(connection, $"{ex.StatusCode}: {ex.Status.Detail}");
            throw;
        }

        return (connection, config);
    }
}

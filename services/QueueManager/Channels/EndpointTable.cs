using System.Globalization;
using System.Threading.Channels;
using Grpc.Core;
using StackExchange.Redis;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Redis;

namespace WebhookConnect.QueueManager.Channels;

/// <summary>
/// The endpoint table ingress routes with (publish.proto GetEndpoint, ListEndpoints, WatchEndpoints), secrets
/// included. A route exists when <see cref="GlobalKeys.EndpointIndex"/> names a channel AND that channel's
/// endpoints hash holds the endpoint (see <see cref="ChannelStore"/> for why both).
/// </summary>
public sealed partial class EndpointTable(IConnectionMultiplexer redis, ClusterEvents events, ILogger<EndpointTable> logger)
{
    /// <summary>publish.proto: a heartbeat at least every 15 s.</summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How often a watch also checks the revision in Redis. Pub/sub events are hints that can be lost; polling the
    /// revision keeps the "within 1 s" promise of publish.proto without them, for one GET per second per watcher.
    /// </summary>
    public static readonly TimeSpan RevisionPollInterval = TimeSpan.FromMilliseconds(500);

    private IDatabase Db => redis.GetDatabase();

    public async Task<EndpointRoute> GetEndpointAsync(string @namespace, string endpointId)
    {
        ChannelValidation.Name("endpoint_id", endpointId);
        if (@namespace.Length > 0)
        {
            ChannelValidation.Name("namespace", @namespace);
        }

        var field = GlobalKeys.EndpointField(@namespace, endpointId);
        var channel = (string?)await Db.HashGetAsync(GlobalKeys.EndpointIndex, field);
        var route = channel is null ? null : (await ReadRoutesAsync(channel, [field])).FirstOrDefault();
        return route ?? throw new ChannelException(ChannelFailure.NotFound, $"no channel has the endpoint '{field}'");
    }

    /// <summary>
    /// The whole table. The revision is read FIRST: writers change the table before they increment it, so the
    /// routes returned reflect at least that revision (possibly more, which a later notification repeats harmlessly).
    /// </summary>
    public async Task<ListEndpointsResponse> ListEndpointsAsync()
    {
        var revision = (ulong)(long)await Db.StringGetAsync(GlobalKeys.EndpointRevision);
        var index = await Db.HashGetAllAsync(GlobalKeys.EndpointIndex);
        var reads = index
            .GroupBy(entry => (string)entry.Value!, entry => (string)entry.Name!, StringComparer.Ordinal)
            .Select(group => ReadRoutesAsync(group.Key, [.. group]));
        var response = new ListEndpointsResponse { Revision = revision };
        response.Routes.AddRange((await Task.WhenAll(reads))
            .SelectMany(routes => routes)
            .OrderBy(r => r.Channel, StringComparer.Ordinal)
            .ThenBy(r => EndpointSecrets.Field(r.Endpoint), StringComparer.Ordinal));
        return response;
    }

    /// <summary>
    /// WatchEndpoints as publish.proto documents it: a reset with the full table first; after any change (event,
    /// a revision moved in Redis, a Redis reconnect) a fresh reset within about a second; otherwise a heartbeat at
    /// least every 15 s. Sending whole tables keeps the feed trivially correct; tables are small (endpoints, not
    /// messages). This loop is the stream's only writer.
    /// </summary>
    public async Task WatchAsync(IServerStreamWriter<WatchEndpointsResponse> writer, CancellationToken cancellationToken)
    {
        // Capacity 1, drop the newest: any number of changes while a reset is being built collapse into one more.
        var dirty = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        using var subscription = events.Listen(e =>
        {
            if (e.Kind is ClusterEventKind.EndpointsChanged or ClusterEventKind.ChannelDeleted)
            {
                dirty.Writer.TryWrite(true);
            }
        });
        void OnReconnected() => dirty.Writer.TryWrite(true);
        events.Reconnected += OnReconnected;
        try
        {
            var sent = await SendResetAsync(writer);
            var lastWrite = DateTimeOffset.UtcNow;
            var pending = false;
            var redisAway = false;
            while (!cancellationToken.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(RevisionPollInterval);
                bool signalled;
                try
                {
                    signalled = await dirty.Reader.WaitToReadAsync(wait.Token);
                    dirty.Reader.TryRead(out _);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    signalled = false;
                }

                pending |= signalled;
                try
                {
                    var current = (ulong)(long)await Db.StringGetAsync(GlobalKeys.EndpointRevision);
                    if (pending || current != sent)
                    {
                        sent = await SendResetAsync(writer);
                        lastWrite = DateTimeOffset.UtcNow;
                        pending = false;
                    }

                    redisAway = false;
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    // Redis is away: keep the stream (and the client's cache) alive with heartbeats, and send a
                    // fresh table once Redis answers again (publish.proto: the stream never ends on its own).
                    pending = true;
                    if (!redisAway)
                    {
                        redisAway = true;
                        LogRedisUnavailable(logger, ex);
                    }
                }

                // Checked every poll, so the heartbeat goes out early rather than late.
                if (DateTimeOffset.UtcNow - lastWrite >= HeartbeatInterval - RevisionPollInterval)
                {
                    await writer.WriteAsync(new WatchEndpointsResponse { Revision = sent });
                    lastWrite = DateTimeOffset.UtcNow;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away: the normal end of a watch.
        }
        finally
        {
            events.Reconnected -= OnReconnected;
        }
    }

    private async Task<ulong> SendResetAsync(IServerStreamWriter<WatchEndpointsResponse> writer)
    {
        var table = await ListEndpointsAsync();
        var response = new WatchEndpointsResponse { Revision = table.Revision, Reset = true };
        response.Upserted.AddRange(table.Routes);
        await writer.WriteAsync(response);
        LogResetSent(logger, table.Routes.Count, table.Revision);
        return table.Revision;
    }

    /// <summary>Routes of one channel for the given index fields, from one MULTI (config and endpoints agree).</summary>
    private async Task<List<EndpointRoute>> ReadRoutesAsync(string channel, RedisValue[] fields)
    {
        if (!ChannelValidation.IsValidName(channel))
        {
            return [];
        }

        var keys = new ChannelKeys(channel);
        var tx = Db.CreateTransaction();
        var maxBytesTask = tx.HashGetAsync(keys.Config, ChannelFields.MaxMessageBytes);
        var endpointsTask = tx.HashGetAsync(keys.Endpoints, fields);
        await tx.ExecuteAsync();
        var maxBytes = await maxBytesTask;
        var routes = new List<EndpointRoute>(fields.Length);
        if (maxBytes.IsNull)
        {
            return routes; // The channel is gone; its index entries are leftovers.
        }

        foreach (var value in await endpointsTask)
        {
            if (!value.IsNull)
            {
                routes.Add(new EndpointRoute
                {
                    Channel = channel,
                    Endpoint = EndpointSecrets.WithSecretFlag(EndpointConfig.Parser.ParseFrom((byte[])value!)),
                    MaxMessageBytes = uint.Parse((string)maxBytes!, NumberStyles.Integer, CultureInfo.InvariantCulture),
                });
            }
        }

        return routes;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Endpoint watch: Redis is unavailable; heartbeats continue until it answers")]
    private static partial void LogRedisUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Endpoint table sent to a watcher: {RouteCount} route(s) at revision {Revision}")]
    private static partial void LogResetSent(ILogger logger, int routeCount, ulong revision);
}

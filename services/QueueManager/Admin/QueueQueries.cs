using System.Globalization;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using StackExchange.Redis;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Redis;

namespace WebhookConnect.QueueManager.Admin;

/// <summary>The queue side of the internal admin API: stats, overview, connections, disconnect, dead letters,
/// peek. Every number is read from Redis, so any replica answers the same.</summary>
public sealed class QueueQueries(MessageQueue queue, IConnectionMultiplexer redis, ClusterEvents events)
{
    private static readonly RedisValue EventsChannel = GlobalKeys.EventsName;
    private static readonly TimeSpan ReplicaSeenWithin = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DisconnectWait = TimeSpan.FromSeconds(10);
    private const int DeadLetterChunk = 1000;

    private IDatabase Db => redis.GetDatabase();

    public async Task<GetChannelStatsResponse> GetChannelStatsAsync(GetChannelStatsRequest request)
    {
        RequireName(request.Channel, "channel");
        var (stats, _) = await StatsAsync(request.Channel) ?? throw NotFound(request.Channel);
        return new GetChannelStatsResponse { Stats = stats };
    }

    public async Task<GetOverviewResponse> GetOverviewAsync(GetOverviewRequest request)
    {
        var overview = new Overview { Totals = new ChannelStats() };
        foreach (var name in await queue.ChannelNamesAsync())
        {
            if (await StatsAsync(name) is not var (stats, paused))
            {
                continue;
            }

            overview.TotalChannels++;
            overview.PausedChannels += paused ? 1u : 0u;
            overview.TotalConnections += stats.Connections;
            Add(overview.Totals, stats);
            if (request.IncludeChannels)
            {
                overview.Channels.Add(stats);
            }
        }

        var since = DateTimeOffset.UtcNow - ReplicaSeenWithin;
        var alive = await Db.SortedSetRangeByScoreAsync(GlobalKeys.ReplicasAlive, since.ToUnixTimeMilliseconds());
        if (alive.Length > 0)
        {
            foreach (var replica in await Db.HashGetAsync(GlobalKeys.Replicas, alive))
            {
                if (replica.HasValue)
                {
                    overview.Replicas.Add(Replica.Parser.ParseFrom((byte[])replica!));
                }
            }
        }

        return new GetOverviewResponse { Overview = overview };
    }

    public async Task<ListConnectionsResponse> ListConnectionsAsync(ListConnectionsRequest request)
    {
        string[] channels;
        if (request.Channel.Length > 0)
        {
            RequireName(request.Channel, "channel");
            await RequireChannelAsync(request.Channel);
            channels = [request.Channel];
        }
        else
        {
            channels = await queue.ChannelNamesAsync();
        }

        var response = new ListConnectionsResponse();
        foreach (var channel in channels)
        {
            response.Connections.Add((await LiveConnectionsAsync(channel)).OrderBy(c => c.ConnectedAt.ToDateTimeOffset()).ThenBy(c => c.ConnectionId, StringComparer.Ordinal));
        }

        return response;
    }

    /// <summary>Asks whichever replica holds the stream to close it (pub/sub), then waits until its registration is
    /// gone, so that when this returns the connection is closed and its leases released.</summary>
    public async Task<DisconnectConnectionResponse> DisconnectConnectionAsync(DisconnectConnectionRequest request)
    {
        if (request.ConnectionId.Length == 0)
        {
            throw Invalid("connection_id: required");
        }

        var channel = request.Channel;
        if (channel.Length > 0)
        {
            RequireName(channel, "channel");
        }
        else
        {
            channel = (string?)await Db.HashGetAsync(GlobalKeys.ConnectionIndex, request.ConnectionId) ?? "";
        }

        var connection = channel.Length == 0
            ? null
            : (await LiveConnectionsAsync(channel)).FirstOrDefault(c => c.ConnectionId == request.ConnectionId);
        if (connection is null)
        {
            if (request.Channel.Length == 0 && channel.Length > 0)
            {
                // An index entry left by a replica that crashed: the connection is gone.
                await Db.HashDeleteAsync(GlobalKeys.ConnectionIndex, request.ConnectionId);
            }

            throw new RpcException(new Status(
                StatusCode.NotFound,
                request.Channel.Length > 0
                    ? $"no open connection '{request.ConnectionId}' on channel '{request.Channel}'"
                    : $"no open connection '{request.ConnectionId}'"));
        }

        var reason = request.Reason.Length > 0 ? request.Reason : "disconnected by an operator";
        await events.PublishAsync(ClusterEvent.Disconnect(channel, connection.ConnectionId, reason));
        var keys = queue.KeysOf(channel);
        var deadline = DateTimeOffset.UtcNow + DisconnectWait;
        while (DateTimeOffset.UtcNow < deadline && (await Db.SortedSetScoreAsync(keys.Connections, connection.ConnectionId)).HasValue)
        {
            await Task.Delay(50);
        }

        return new DisconnectConnectionResponse { ReplicaId = connection.ReplicaId };
    }

    public async Task<ListDeadLettersResponse> ListDeadLettersAsync(ListDeadLettersRequest request)
    {
        RequireName(request.Channel, "channel");
        await RequireChannelAsync(request.Channel);
        var pageSize = PageSize(request.PageSize);
        var offset = ParsePageToken(request.PageToken);
        var keys = queue.KeysOf(request.Channel);
        var ids = await Db.SortedSetRangeByRankAsync(keys.DeadLetters, offset, offset + pageSize);
        var total = await Db.SortedSetLengthAsync(keys.DeadLetters);
        var response = new ListDeadLettersResponse { Total = (uint)total };
        response.Messages.Add(await ReadDeadLettersAsync(keys, [.. ids.Take(pageSize)], request.IncludeBody));

        if (ids.Length > pageSize)
        {
            response.NextPageToken = Convert.ToBase64String(Encoding.ASCII.GetBytes("o:" + (offset + pageSize).ToString(CultureInfo.InvariantCulture)));
        }

        return response;
    }

    public async Task<GetDeadLetterResponse> GetDeadLetterAsync(GetDeadLetterRequest request)
    {
        RequireName(request.Channel, "channel");
        await RequireChannelAsync(request.Channel);
        var deadLetter = (await ReadDeadLettersAsync(queue.KeysOf(request.Channel), [request.MessageId], includeBody: true)).SingleOrDefault()
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"no dead letter '{request.MessageId}' in channel '{request.Channel}'"));
        return new GetDeadLetterResponse { DeadLetter = deadLetter };
    }

    public async Task<ReplayDeadLettersResponse> ReplayDeadLettersAsync(ReplayDeadLettersRequest request)
    {
        RequireName(request.Channel, "channel");
        RequireSelection(request.MessageIds, request.All);
        await RequireChannelAsync(request.Channel);
        var response = new ReplayDeadLettersResponse();
        await InChunksAsync(QueueScripts.Replay, request.Channel, [EventsChannel, request.Channel], request.All, request.MessageIds, (done, notFound) =>
        {
            response.Replayed += (uint)done;
            response.NotFound.Add(notFound);
        });
        return response;
    }

    public async Task<PurgeDeadLettersResponse> PurgeDeadLettersAsync(PurgeDeadLettersRequest request)
    {
        RequireName(request.Channel, "channel");
        RequireSelection(request.MessageIds, request.All);
        await RequireChannelAsync(request.Channel);
        var response = new PurgeDeadLettersResponse();
        await InChunksAsync(QueueScripts.Purge, request.Channel, [], request.All, request.MessageIds, (done, notFound) =>
        {
            response.Purged += (uint)done;
            response.NotFound.Add(notFound);
        });
        return response;
    }

    /// <summary>Runs replay.lua or purge.lua over the selection, at most <see cref="DeadLetterChunk"/> dead letters
    /// per call, so replaying or purging a huge dead-letter queue never blocks Redis for long.</summary>
    private async Task InChunksAsync(RedisScript script, string channel, RedisValue[] prefix, bool all, IList<string> ids, Action<int, IEnumerable<string>> add)
    {
        var keys = queue.KeysOf(channel).ScriptKeys;
        if (all)
        {
            int done;
            do
            {
                var result = (RedisResult[])(await script.EvaluateAsync(Db, keys, [.. prefix, DeadLetterChunk]))!;
                done = (int)result[0];
                add(done, []);
            }
            while (done == DeadLetterChunk);
            return;
        }

        foreach (var chunk in ids.Chunk(DeadLetterChunk))
        {
            var result = (RedisResult[])(await script.EvaluateAsync(Db, keys, [.. prefix, 0, .. chunk.Select(id => (RedisValue)id)]))!;
            add((int)result[0], result.Skip(1).Select(r => (string)r!));
        }
    }

    public async Task<PeekMessagesResponse> PeekMessagesAsync(PeekMessagesRequest request)
    {
        RequireName(request.Channel, "channel");
        if (request.Limit > 100)
        {
            throw Invalid($"limit = {request.Limit}: must be between 1 and 100 (0 means 10)");
        }

        await RequireChannelAsync(request.Channel);
        var limit = request.Limit == 0 ? 10 : (int)request.Limit;
        var result = (RedisResult[])(await QueueScripts.Peek.EvaluateAsync(Db, queue.KeysOf(request.Channel).ScriptKeys, [limit]))!;
        var response = new PeekMessagesResponse();
        for (var i = 0; i + 3 < result.Length; i += 4)
        {
            var message = Message.Parser.ParseFrom((byte[])result[i + 1]!);
            var waiting = new WaitingMessage
            {
                BodySize = (uint)message.Body.Length,
                ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds((long)result[i + 3])),
            };
            message.Attempt = (uint)(int)result[i + 2];
            if (!request.IncludeBody)
            {
                message.Body = Google.Protobuf.ByteString.Empty;
            }

            waiting.Message = message;
            response.Messages.Add(waiting);
        }

        return response;
    }

    /// <summary>The channel's stats, or null when it does not exist.</summary>
    public async Task<ChannelStats?> TryGetStatsAsync(string channel) => (await StatsAsync(channel))?.Stats;

    private async Task<(ChannelStats Stats, bool Paused)?> StatsAsync(string channel)
    {
        var result = (RedisResult[])(await QueueScripts.Stats.EvaluateAsync(Db, queue.KeysOf(channel).ScriptKeys, []))!;
        if ((int)result[0] == 0)
        {
            return null;
        }

        var stats = new ChannelStats
        {
            Channel = channel,
            MessagesQueued = (uint)(long)result[1],
            MessagesInFlight = (uint)(long)result[2],
            MessagesDelayed = (uint)(long)result[3],
            DeadLetters = (uint)(long)result[4],
            Connections = (uint)(long)result[5],
        };
        var paused = (long)result[6] == 1;
        if (!result[7].IsNull && (byte[]?)result[7] is { Length: > 0 } oldest)
        {
            stats.OldestQueuedReceivedAt = Message.Parser.ParseFrom(oldest).ReceivedAt;
        }

        for (var i = 8; i + 1 < result.Length; i += 2)
        {
            var value = ulong.Parse((string)result[i + 1]!, CultureInfo.InvariantCulture);
            switch ((string)result[i]!)
            {
                case "published_total": stats.PublishedTotal = value; break;
                case "delivered_total": stats.DeliveredTotal = value; break;
                case "acked_total": stats.AckedTotal = value; break;
                case "nacked_total": stats.NackedTotal = value; break;
                case "lease_expired_total": stats.LeaseExpiredTotal = value; break;
                case "expired_total": stats.ExpiredTotal = value; break;
                case "dead_lettered_total": stats.DeadLetteredTotal = value; break;
                case "rejected_total": stats.RejectedTotal = value; break;
                case "duplicates_total": stats.DuplicatesTotal = value; break;
                case "queue_bytes": stats.QueueBytes = value; break;
                case "history_bytes": stats.HistoryBytes = value; break;
                case "history_messages": stats.HistoryMessages = (uint)value; break;
            }
        }

        return (stats, paused);
    }

    private static void Add(ChannelStats total, ChannelStats stats)
    {
        total.MessagesQueued += stats.MessagesQueued;
        total.MessagesInFlight += stats.MessagesInFlight;
        total.MessagesDelayed += stats.MessagesDelayed;
        total.DeadLetters += stats.DeadLetters;
        total.Connections += stats.Connections;
        total.PublishedTotal += stats.PublishedTotal;
        total.DeliveredTotal += stats.DeliveredTotal;
        total.AckedTotal += stats.AckedTotal;
        total.NackedTotal += stats.NackedTotal;
        total.LeaseExpiredTotal += stats.LeaseExpiredTotal;
        total.ExpiredTotal += stats.ExpiredTotal;
        total.DeadLetteredTotal += stats.DeadLetteredTotal;
        total.RejectedTotal += stats.RejectedTotal;
        total.DuplicatesTotal += stats.DuplicatesTotal;
        total.QueueBytes += stats.QueueBytes;
        total.HistoryMessages += stats.HistoryMessages;
        total.HistoryBytes += stats.HistoryBytes;
    }

    private async Task<List<Connection>> LiveConnectionsAsync(string channel)
    {
        var keys = queue.KeysOf(channel);
        var live = await Db.SortedSetRangeByScoreAsync(keys.Connections, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), double.PositiveInfinity, Exclude.Start);
        var list = new List<Connection>(live.Length);
        if (live.Length == 0)
        {
            return list;
        }

        foreach (var info in await Db.HashGetAsync(keys.ConnectionInfo, live))
        {
            if (info.HasValue)
            {
                list.Add(Connection.Parser.ParseFrom((byte[])info!));
            }
        }

        return list;
    }

    /// <summary>The dead letters among <paramref name="ids"/>, in order, with two round trips whatever the count.</summary>
    private async Task<List<DeadLetter>> ReadDeadLettersAsync(ChannelKeys keys, RedisValue[] ids, bool includeBody)
    {
        var list = new List<DeadLetter>(ids.Length);
        if (ids.Length == 0)
        {
            return list;
        }

        var infos = await Db.HashGetAsync(keys.DeadLetterInfo, ids);
        var envelopes = await Db.HashGetAsync(keys.Messages, ids);
        for (var i = 0; i < ids.Length; i++)
        {
            if (infos[i].HasValue && envelopes[i].HasValue)
            {
                list.Add(ToDeadLetter(infos[i], envelopes[i], includeBody));
            }
        }

        return list;
    }

    private static DeadLetter ToDeadLetter(RedisValue info, RedisValue envelope, bool includeBody)
    {
        // reason|attempts|first_ms|last_ms|dead_lettered_ms|status|error (the error may contain '|')
        var parts = ((string)info!).Split('|', 7);
        var message = Message.Parser.ParseFrom((byte[])envelope!);
        var attempts = uint.Parse(parts[1], CultureInfo.InvariantCulture);
        message.Attempt = attempts;
        var deadLetter = new DeadLetter
        {
            BodySize = (uint)message.Body.Length,
            Reason = parts[0] switch
            {
                "MAX_ATTEMPTS" => DeadLetterReason.MaxAttempts,
                "REJECTED" => DeadLetterReason.Rejected,
                "EXPIRED" => DeadLetterReason.Expired,
                _ => DeadLetterReason.Unspecified,
            },
            Attempts = attempts,
            FirstDeliveredAt = Time(parts[2]),
            LastDeliveredAt = Time(parts[3]),
            DeadLetteredAt = Time(parts[4]),
            LastStatusCode = uint.Parse(parts[5], CultureInfo.InvariantCulture),
            LastError = parts[6],
        };
        if (!includeBody)
        {
            message.Body = Google.Protobuf.ByteString.Empty;
        }

        deadLetter.Message = message;
        return deadLetter;
    }

    private static Timestamp? Time(string ms) =>
        long.Parse(ms, CultureInfo.InvariantCulture) is > 0 and var value ? Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(value)) : null;

    private async Task RequireChannelAsync(string channel)
    {
        if (!await Db.KeyExistsAsync(queue.KeysOf(channel).Config))
        {
            throw NotFound(channel);
        }
    }

    private static int PageSize(uint requested) => requested switch
    {
        0 => 100,
        > 1000 => throw Invalid($"page_size = {requested}: must be between 1 and 1000 (0 means 100)"),
        _ => (int)requested,
    };

    private static int ParsePageToken(string token)
    {
        if (token.Length == 0)
        {
            return 0;
        }

        try
        {
            var text = Encoding.ASCII.GetString(Convert.FromBase64String(token));
            if (text.StartsWith("o:", StringComparison.Ordinal) && int.TryParse(text.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                return offset;
            }
        }
        catch (FormatException)
        {
        }

        throw Invalid($"page_token = '{token}': not a token from a previous response");
    }

    private static void RequireSelection(ICollection<string> ids, bool all)
    {
        if (all == (ids.Count > 0))
        {
            throw Invalid("give exactly one of message_ids (non-empty) and all");
        }
    }

    private static void RequireName(string name, string field)
    {
        if (!ChannelNames.IsValid(name))
        {
            throw Invalid($"{field} = '{(name.Length > 80 ? name[..80] + "…" : name)}': must match {ChannelNames.Rule}");
        }
    }

    private static RpcException NotFound(string channel) => new(new Status(StatusCode.NotFound, $"channel '{channel}' does not exist"));

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}

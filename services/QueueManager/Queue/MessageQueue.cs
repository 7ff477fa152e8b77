using System.Collections.Concurrent;
using System.Globalization;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.History;
using WebhookConnect.QueueManager.Redis;

namespace WebhookConnect.QueueManager.Queue;

/// <summary>
/// The channel queues in Redis: publish, lease (deliver), ack, nack, release, sweep, and the connection
/// registrations that enforce <c>max_connections</c>. Each operation is one Lua script over one channel's keys
/// (docs/queue-manager.md explains the layout and its invariants).
/// </summary>
public sealed class MessageQueue(IConnectionMultiplexer redis, IOptions<QueueManagerOptions> options)
{
    private static readonly RedisValue EventsChannel = GlobalKeys.EventsName;
    private const int MaxPublishBatch = 64;
    private const int MaxPublishBatchBytes = 4 * 1024 * 1024;
    private const int MaxAckBatch = 1000;

    /// <summary>ARGV entries per message of publish.lua.</summary>
    private const int PublishArgs = 7;

    /// <summary>Keys of the channels that existed at the last listing (<see cref="ChannelNamesAsync"/>, every few
    /// seconds by the sweeper). Only those are cached: a name nobody created (an unauthenticated Connect with a made-up
    /// channel, an admin typo) gets its keys built for the one call and forgotten, so no caller grows this map
    /// (issue 20, finding 2). A deleted channel leaves it at the next listing.</summary>
    private readonly ConcurrentDictionary<string, ChannelKeys> _keys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ChannelPublisher> _publishers = new(StringComparer.Ordinal);

    /// <summary>Single acks waiting for their connection's ack.lua call in flight (<see cref="AckAsync"/>); a group
    /// leaves the map when its drain loop finds nothing more to send.</summary>
    private readonly ConcurrentDictionary<(string Channel, string Connection), AckGroup> _ackGroups = new();
    private readonly QueueManagerOptions _options = options.Value;

    private IDatabase Db => redis.GetDatabase();

    public ChannelKeys KeysOf(string channel) => _keys.TryGetValue(channel, out var keys) ? keys : new ChannelKeys(channel);

    public async Task<ChannelConfig?> GetConfigAsync(string channel) =>
        ChannelConfig.FromHash(channel, await Db.HashGetAllAsync(KeysOf(channel).Config));

    /// <summary>
    /// Queues one message. Concurrent publishes to one channel are grouped into a single publish.lua call (group
    /// commit): while one call is in Redis, the next ones wait in a per-channel queue and go together, in arrival
    /// order. Nobody waits for a batch to fill; a lone publish goes at once.
    /// </summary>
    public Task<PublishDecision> PublishAsync(Message message)
    {
        var pending = new PendingPublish(message, message.ToByteArray());
        var publisher = _publishers.GetOrAdd(message.Channel, static name => new ChannelPublisher(name));
        if (publisher.Enqueue(pending))
        {
            _ = DrainAsync(publisher);
        }

        return pending.Done.Task;
    }

    private async Task DrainAsync(ChannelPublisher publisher)
    {
        while (publisher.TakeBatch(MaxPublishBatch, MaxPublishBatchBytes) is { } batch)
        {
            try
            {
                var channelKeys = KeysOf(publisher.Channel);
                List<RedisKey>? replayKeys = null;
                var args = new RedisValue[3 + (batch.Count * PublishArgs)];
                args[0] = EventsChannel;
                args[1] = publisher.Channel;
                args[2] = _options.DefaultMaxQueueBytes;
                for (var i = 0; i < batch.Count; i++)
                {
                    var message = batch[i].Message;
                    var at = 3 + (i * PublishArgs);
                    args[at] = message.MessageId;
                    args[at + 1] = batch[i].Envelope;
                    args[at + 2] = message.ReceivedAt.ToDateTimeOffset().ToUnixTimeMilliseconds();
                    args[at + 3] = message.IdempotencyKey;
                    args[at + 4] = message.Body.Length;
                    // A replay key is a key of its own (SET PX), so it goes in KEYS: the script names its position.
                    if (message.ReplayKey.Length > 0)
                    {
                        (replayKeys ??= []).Add(channelKeys.Replay(message.ReplayKey));
                        args[at + 5] = channelKeys.ScriptKeys.Length + replayKeys.Count;
                        args[at + 6] = ReplayWindowMs(message);
                    }
                    else
                    {
                        args[at + 5] = 0;
                        args[at + 6] = 0;
                    }
                }

                RedisKey[] keys = replayKeys is null ? channelKeys.ScriptKeys : [.. channelKeys.ScriptKeys, .. replayKeys];
                var result = (RedisResult[])(await QueueScripts.Publish.EvaluateAsync(Db, keys, args))!;
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Done.TrySetResult(Decision(batch[i].Message, (string)result[2 * i]!, (string)result[(2 * i) + 1]!));
                }
            }
            catch (Exception ex)
            {
                foreach (var pending in batch)
                {
                    pending.Done.TrySetException(ex);
                }
            }
        }
    }

    /// <summary>The replay window in whole milliseconds, rounded up (Publisher validated it).</summary>
    private static long ReplayWindowMs(Message message) => (long)Math.Ceiling(message.ReplayWindow.ToTimeSpan().TotalMilliseconds);

    private static PublishDecision Decision(Message message, string outcome, string detail) => outcome switch
    {
        "queued" => new PublishDecision(PublishStatus.Queued, message.MessageId),
        "already_queued" => new PublishDecision(PublishStatus.AlreadyQueued, message.MessageId),
        "duplicate" => new PublishDecision(PublishStatus.Duplicate, detail),
        "not_found" => new PublishDecision(PublishStatus.ChannelNotFound, message.MessageId),
        "too_large" => new PublishDecision(PublishStatus.TooLarge, message.MessageId, long.Parse(detail, CultureInfo.InvariantCulture)),
        "full" => new PublishDecision(PublishStatus.Full, message.MessageId, long.Parse(detail, CultureInfo.InvariantCulture)),
        "over_budget" => OverBudget(message, detail),
        _ => throw new InvalidOperationException($"publish.lua answered '{outcome}'."),
    };

    private static PublishDecision OverBudget(Message message, string detail)
    {
        var separator = detail.IndexOf('|', StringComparison.Ordinal);
        return new PublishDecision(
            PublishStatus.OverBudget,
            message.MessageId,
            long.Parse(detail.AsSpan(0, separator), CultureInfo.InvariantCulture),
            long.Parse(detail.AsSpan(separator + 1), CultureInfo.InvariantCulture));
    }

    /// <summary>Leases up to <paramref name="count"/> waiting messages to a connection, together at most
    /// <paramref name="maxBytes"/> envelope bytes (the first message whatever its size; 0 = no byte limit).</summary>
    /// <param name="connectorId">The connector's name and <paramref name="protocol"/>: recorded with each attempt in the
    /// history.</param>
    public async Task<LeaseBatch> DeliverAsync(string channel, string connectionId, int count, long maxBytes, string connectorId = "", string protocol = "")
    {
        var result = (RedisResult[])(await QueueScripts.Deliver.EvaluateAsync(Db, KeysOf(channel).ScriptKeys,
            [connectionId, count, maxBytes, HistoryText.Clean(connectorId), protocol]))!;
        var status = (string)result[0]!;
        if (status != "ok")
        {
            return new LeaseBatch(status == "paused" ? LeaseStatus.Paused : LeaseStatus.ConnectionGone, default, []);
        }

        var deadline = DateTimeOffset.FromUnixTimeMilliseconds((long)result[1]);
        var leased = new LeasedMessage[(result.Length - 2) / 4];
        for (int i = 0, r = 2; i < leased.Length; i++, r += 4)
        {
            leased[i] = new LeasedMessage((string)result[r]!, (int)result[r + 1], (byte[])result[r + 2]!, (long)result[r + 3]);
        }

        return new LeaseBatch(LeaseStatus.Ok, deadline, leased);
    }

    /// <summary>
    /// Settles what of <paramref name="messageIds"/> is leased to the connection; returns how many. A single ack (SSE
    /// and long-poll send one <c>POST /connect/ack</c> per message, a connector may send one-id frames) joins the
    /// other single acks of its connection: while one ack.lua call of the connection is in Redis, the next ones wait
    /// and go together (group commit, as publishes do), so a thousand acks in flight cost a few script calls instead
    /// of a thousand. A lone ack goes at once.
    /// </summary>
    /// <param name="reports">What the target answered (Ack.reports), for the history; any subset of the ids, or none.</param>
    public async Task<int> AckAsync(string channel, string connectionId, IReadOnlyList<string> messageIds, IReadOnlyList<TargetReport>? reports = null)
    {
        if (messageIds.Count == 1)
        {
            var report = reports?.LastOrDefault(r => r.MessageId == messageIds[0]);
            return await AckOneAsync(channel, connectionId, new PendingAck(messageIds[0], report)) ? 1 : 0;
        }

        return (await SettleAsync(channel, connectionId, messageIds, reports)).Count;
    }

    private Task<bool> AckOneAsync(string channel, string connectionId, PendingAck pending)
    {
        var key = (channel, connectionId);
        while (true)
        {
            var group = _ackGroups.GetOrAdd(key, static _ => new AckGroup());
            switch (group.Enqueue(pending))
            {
                case AckGroup.Added.Waiting:
                    return pending.Done.Task;
                case AckGroup.Added.StartDrain:
                    _ = DrainAcksAsync(key, group);
                    return pending.Done.Task;
                default:
                    // Its drain loop ended a moment ago: take it out (if still there) and join or start a new one.
                    _ackGroups.TryRemove(new KeyValuePair<(string, string), AckGroup>(key, group));
                    break;
            }
        }
    }

    private async Task DrainAcksAsync((string Channel, string Connection) key, AckGroup group)
    {
        while (group.TakeBatch(MaxAckBatch) is { } batch)
        {
            try
            {
                var ids = new string[batch.Count];
                List<TargetReport>? reports = null;
                for (var i = 0; i < batch.Count; i++)
                {
                    ids[i] = batch[i].MessageId;
                    if (batch[i].Report is { } report)
                    {
                        (reports ??= []).Add(report);
                    }
                }

                var settled = await SettleAsync(key.Channel, key.Connection, ids, reports);
                foreach (var pending in batch)
                {
                    pending.Done.TrySetResult(settled.Contains(pending.MessageId));
                }
            }
            catch (Exception ex)
            {
                foreach (var pending in batch)
                {
                    pending.Done.TrySetException(ex);
                }
            }
        }

        _ackGroups.TryRemove(new KeyValuePair<(string, string), AckGroup>(key, group));
    }

    /// <summary>One ack.lua call: the ids it settled.</summary>
    private async Task<HashSet<string>> SettleAsync(string channel, string connectionId, IReadOnlyList<string> messageIds, IReadOnlyList<TargetReport>? reports)
    {
        Dictionary<string, TargetReport>? byId = null;
        if (reports is { Count: > 0 })
        {
            byId = new Dictionary<string, TargetReport>(reports.Count, StringComparer.Ordinal);
            foreach (var report in reports)
            {
                byId[report.MessageId] = report;
            }
        }

        var args = new RedisValue[(messageIds.Count * 3) + 1];
        args[0] = connectionId;
        for (var i = 0; i < messageIds.Count; i++)
        {
            var at = 1 + (i * 3);
            args[at] = messageIds[i];
            if (byId is not null && byId.TryGetValue(messageIds[i], out var report))
            {
                args[at + 1] = report.TargetStatusCode;
                args[at + 2] = HistoryText.Microseconds(report.TargetDuration);
            }
            else
            {
                args[at + 1] = 0;
                args[at + 2] = RedisValue.EmptyString;
            }
        }

        var result = (RedisResult[])(await QueueScripts.Ack.EvaluateAsync(Db, KeysOf(channel).ScriptKeys, args))!;
        var settled = new HashSet<string>(result.Length, StringComparer.Ordinal);
        foreach (var id in result)
        {
            settled.Add((string)id!);
        }

        return settled;
    }

    public async Task<bool> NackAsync(string channel, string connectionId, Nack nack)
    {
        var reason = HistoryText.Clean(nack.Reason.Length > 1024 ? nack.Reason[..1024] : nack.Reason);
        var settled = (int)await QueueScripts.Nack.EvaluateAsync(Db, KeysOf(channel).ScriptKeys,
            [connectionId, nack.MessageId, nack.Retry ? 1 : 0, reason, nack.TargetStatusCode, Random.Shared.Next(), EventsChannel, channel,
                HistoryText.Microseconds(nack.TargetDuration)]);
        return settled == 1;
    }

    /// <summary>Makes a closing connection's leases deliverable at once.</summary>
    public async Task<int> ReleaseAsync(string channel, string connectionId, IReadOnlyCollection<string> messageIds)
    {
        if (messageIds.Count == 0)
        {
            return 0;
        }

        var args = new List<RedisValue>(messageIds.Count + 3) { connectionId, EventsChannel, channel };
        foreach (var id in messageIds)
        {
            args.Add(id);
        }

        return (int)await QueueScripts.Release.EvaluateAsync(Db, KeysOf(channel).ScriptKeys, [.. args]);
    }

    /// <summary>Lease expiry, due retries, TTL and housekeeping for one channel. Returns whether more work is left
    /// than one batch did.</summary>
    public async Task<bool> SweepAsync(string channel, string replicaId, TimeSpan lockFor)
    {
        var result = (RedisResult[])(await QueueScripts.Sweep.EvaluateAsync(Db, KeysOf(channel).ScriptKeys,
            [
                replicaId,
                (long)lockFor.TotalMilliseconds,
                Random.Shared.Next(),
                _options.SweepBatchSize,
                (long)_options.SettledIdRetention.TotalMilliseconds,
                EventsChannel,
                channel,
            ]))!;
        await ForgetStaleConnectionsAsync(result[2]);
        return (int)result[1] == 1;
    }

    /// <summary>The scripts drop connections of crashed replicas from the channel's own keys; their entries in the
    /// cross-slot connection index go here, so the index does not keep every connection that ever crashed.</summary>
    private async Task ForgetStaleConnectionsAsync(RedisResult stale)
    {
        var ids = (RedisValue[])stale!;
        if (ids.Length > 0)
        {
            await Db.HashDeleteAsync(GlobalKeys.ConnectionIndex, ids);
        }
    }

    public async Task<RegisterStatus> RegisterConnectionAsync(string channel, Connection info, TimeSpan aliveFor)
    {
        var result = (RedisResult[])(await QueueScripts.Connect.EvaluateAsync(Db, KeysOf(channel).ScriptKeys,
            [info.ConnectionId, (long)aliveFor.TotalMilliseconds, info.ToByteArray()]))!;
        if (result.Length > 2)
        {
            await ForgetStaleConnectionsAsync(result[2]);
        }

        return (string)result[0]! switch
        {
            "ok" => RegisterStatus.Registered,
            "not_found" => RegisterStatus.ChannelNotFound,
            _ => RegisterStatus.Full,
        };
    }

    /// <summary>Keeps a connection counted; false when its channel was deleted (or deleted and created again).</summary>
    public async Task<bool> TouchConnectionAsync(string channel, Connection info, DateTimeOffset channelCreatedAt, TimeSpan aliveFor) =>
        (int)await QueueScripts.Touch.EvaluateAsync(Db, KeysOf(channel).ScriptKeys,
            [info.ConnectionId, (long)aliveFor.TotalMilliseconds, info.ToByteArray(), channelCreatedAt.ToUnixTimeMilliseconds()]) == 1;

    public Task UnregisterConnectionAsync(string channel, string connectionId) =>
        QueueScripts.Disconnect.EvaluateAsync(Db, KeysOf(channel).ScriptKeys, [connectionId]);

    /// <summary>Names of every channel (for sweeping).</summary>
    public async Task<string[]> ChannelNamesAsync()
    {
        var names = Array.ConvertAll(await Db.SortedSetRangeByRankAsync(GlobalKeys.Channels), n => (string)n!);
        CacheKeysOfOnly(names);
        return names;
    }

    /// <summary>Makes the key cache hold exactly the channels listed: existing channels are added, others dropped.</summary>
    private void CacheKeysOfOnly(string[] names)
    {
        var existing = new HashSet<string>(names, StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (!_keys.ContainsKey(name))
            {
                _keys.TryAdd(name, new ChannelKeys(name));
            }
        }

        foreach (var cached in _keys.Keys)
        {
            if (!existing.Contains(cached))
            {
                _keys.TryRemove(cached, out _);
            }
        }
    }
}

internal sealed record PendingPublish(Message Message, byte[] Envelope)
{
    public TaskCompletionSource<PublishDecision> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>The publishes of one channel waiting for the call in flight; at most one drain loop runs per channel.</summary>
internal sealed class ChannelPublisher(string channel)
{
    private readonly Lock _gate = new();
    private readonly Queue<PendingPublish> _queue = new();
    private bool _draining;

    public string Channel { get; } = channel;

    /// <summary>Adds a publish; true when the caller must start the drain loop.</summary>
    public bool Enqueue(PendingPublish pending)
    {
        lock (_gate)
        {
            _queue.Enqueue(pending);
            if (_draining)
            {
                return false;
            }

            _draining = true;
            return true;
        }
    }

    /// <summary>The next batch in arrival order (at least one message), or null, ending the drain loop, when none waits.</summary>
    public List<PendingPublish>? TakeBatch(int maxCount, int maxBytes)
    {
        lock (_gate)
        {
            if (_queue.Count == 0)
            {
                _draining = false;
                return null;
            }

            var batch = new List<PendingPublish>(Math.Min(_queue.Count, maxCount));
            var bytes = 0;
            while (_queue.Count > 0 && batch.Count < maxCount && (batch.Count == 0 || bytes + _queue.Peek().Envelope.Length <= maxBytes))
            {
                var next = _queue.Dequeue();
                bytes += next.Envelope.Length;
                batch.Add(next);
            }

            return batch;
        }
    }
}

internal sealed record PendingAck(string MessageId, TargetReport? Report)
{
    public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>The single acks of one connection waiting for the ack.lua call in flight; at most one drain loop runs per
/// group, and a group whose loop ended takes nothing more (the caller then starts a new one).</summary>
internal sealed class AckGroup
{
    private readonly Lock _gate = new();
    private readonly List<PendingAck> _waiting = [];
    private bool _draining;
    private bool _closed;

    public enum Added
    {
        Waiting,
        StartDrain,
        Closed,
    }

    public Added Enqueue(PendingAck pending)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return Added.Closed;
            }

            _waiting.Add(pending);
            if (_draining)
            {
                return Added.Waiting;
            }

            _draining = true;
            return Added.StartDrain;
        }
    }

    /// <summary>The next call's acks in arrival order, or null (the group closes) when none waits. An id named twice
    /// goes in the next call, so that, as when they went one by one, the second finds it settled and is refused.</summary>
    public List<PendingAck>? TakeBatch(int maxCount)
    {
        lock (_gate)
        {
            if (_waiting.Count == 0)
            {
                _draining = false;
                _closed = true;
                return null;
            }

            var batch = new List<PendingAck>(Math.Min(_waiting.Count, maxCount));
            var ids = new HashSet<string>(StringComparer.Ordinal);
            var kept = 0;
            for (var i = 0; i < _waiting.Count; i++)
            {
                var pending = _waiting[i];
                if (batch.Count < maxCount && ids.Add(pending.MessageId))
                {
                    batch.Add(pending);
                }
                else
                {
                    _waiting[kept++] = pending;
                }
            }

            _waiting.RemoveRange(kept, _waiting.Count - kept);
            return batch;
        }
    }
}

public enum PublishStatus
{
    Queued,
    AlreadyQueued,
    Duplicate,
    ChannelNotFound,
    TooLarge,
    Full,
    /// <summary>The message would take the channel over its byte budget (<c>max_queue_bytes</c>).</summary>
    OverBudget,
}

/// <param name="MessageId">The id queued under (the original's for a duplicate).</param>
/// <param name="Limit">max_message_bytes for TooLarge, max_queue_size for Full, max_queue_bytes for OverBudget.</param>
/// <param name="Held">For OverBudget: the bytes the channel held when the message was refused.</param>
public readonly record struct PublishDecision(PublishStatus Status, string MessageId, long Limit = 0, long Held = 0);

public enum LeaseStatus
{
    Ok,
    Paused,
    /// <summary>The connection is no longer registered (channel deleted, or its registration lapsed).</summary>
    ConnectionGone,
}

/// <summary>A leased message; <paramref name="Sequence"/> is its place in the channel's queue (from Redis, so it only
/// grows and every replica agrees), shown to the HTTP/1.1 connector protocols.</summary>
public readonly record struct LeasedMessage(string MessageId, int Attempt, byte[] Envelope, long Sequence);

public readonly record struct LeaseBatch(LeaseStatus Status, DateTimeOffset LeaseDeadline, LeasedMessage[] Messages);

public enum RegisterStatus
{
    Registered,
    ChannelNotFound,
    Full,
}

using StackExchange.Redis;

namespace WebhookConnect.QueueManager.Redis;

/// <summary>
/// Every Redis key of one channel, built in one place. All of them carry the channel in a hash tag
/// (<c>wc:{name}:…</c>) so they share one Redis Cluster slot and a Lua script may touch any of them atomically.
/// The layout and the invariants between these keys are described in docs/queue-manager.md.
/// </summary>
public sealed class ChannelKeys
{
    public ChannelKeys(string channel)
    {
        Channel = channel;
        var prefix = "wc:{" + channel + "}:";
        _replayPrefix = prefix + "replay:";
        Config = prefix + "channel";
        Endpoints = prefix + "endpoints";
        Messages = prefix + "messages";
        State = prefix + "state";
        Ready = prefix + "ready";
        Sequence = prefix + "seq";
        Delayed = prefix + "delayed";
        Leases = prefix + "leases";
        Owners = prefix + "owners";
        Expiry = prefix + "expiry";
        DeadLetters = prefix + "dlq";
        DeadLetterInfo = prefix + "dlq-info";
        IdempotencyKeys = prefix + "idem";
        IdempotencyExpiry = prefix + "idem-exp";
        Settled = prefix + "settled";
        Stats = prefix + "stats";
        Connections = prefix + "conns";
        ConnectionInfo = prefix + "conn-info";
        SweepLock = prefix + "sweep-lock";
        History = prefix + "hist";
        HistoryRecords = prefix + "hist-rec";
        HistoryEnvelopes = prefix + "hist-env";
        HistorySettled = prefix + "hist-settled";
        Tailers = prefix + "tailers";
    }

    public string Channel { get; }

    private readonly string _replayPrefix;

    /// <summary>Hash: the channel's settings, token hashes and timestamps (fields in <see cref="ChannelFields"/>).
    /// The channel exists exactly when this key exists.</summary>
    public RedisKey Config { get; }

    /// <summary>Hash: <c>namespace/id</c> → EndpointConfig protobuf, secrets included.</summary>
    public RedisKey Endpoints { get; }

    /// <summary>Hash: message id → Message protobuf as published (attempt 0). Present from Publish until ack,
    /// expiry or purge; dead letters keep theirs.</summary>
    public RedisKey Messages { get; }

    /// <summary>Hash: message id → <c>attempts|first_delivered_ms|last_delivered_ms</c> once delivered.</summary>
    public RedisKey State { get; }

    /// <summary>Sorted set: waiting message ids, score = publish sequence (FIFO); redeliveries score 0 (front).</summary>
    public RedisKey Ready { get; }

    /// <summary>String: the publish sequence counter (INCR).</summary>
    public RedisKey Sequence { get; }

    /// <summary>Sorted set: ids waiting for a retry backoff, score = due time (unix ms).</summary>
    public RedisKey Delayed { get; }

    /// <summary>Sorted set: ids leased to a connection, score = lease deadline (unix ms).</summary>
    public RedisKey Leases { get; }

    /// <summary>Hash: leased id → connection id holding the lease.</summary>
    public RedisKey Owners { get; }

    /// <summary>Sorted set: every id in ready, delayed or leases, score = received_at + ttl (unix ms).</summary>
    public RedisKey Expiry { get; }

    /// <summary>Sorted set: dead-lettered ids, score = dead-lettered time (unix ms), oldest first.</summary>
    public RedisKey DeadLetters { get; }

    /// <summary>Hash: dead-lettered id → <c>reason|attempts|first_ms|last_ms|dead_lettered_ms|status|error</c>.</summary>
    public RedisKey DeadLetterInfo { get; }

    /// <summary>Hash: idempotency key → message id of the first message queued with it.</summary>
    public RedisKey IdempotencyKeys { get; }

    /// <summary>Sorted set: idempotency key → when it is forgotten (unix ms, received_at + ttl).</summary>
    public RedisKey IdempotencyExpiry { get; }

    /// <summary>String with a PX expiry, one per remembered replay key (Message.replay_key): → the message id queued
    /// with it, for that message's replay window. Not in <see cref="All"/>: Redis expires these itself, and a deleted
    /// channel's keys lapse within their window.</summary>
    public RedisKey Replay(string replayKey) => _replayPrefix + replayKey;

    /// <summary>Sorted set: recently acked/expired/purged ids → when settled (unix ms), so a late replay of a
    /// publish is recognised for <c>QueueManager:SettledIdRetention</c>.</summary>
    public RedisKey Settled { get; }

    /// <summary>Hash: the channel's counters (<c>published_total</c>, … as in ChannelStats).</summary>
    public RedisKey Stats { get; }

    /// <summary>Sorted set: open connection ids → alive-until (unix ms), refreshed by the replica holding them.
    /// Entries past their time belong to a crashed replica and are removed by whoever looks.</summary>
    public RedisKey Connections { get; }

    /// <summary>Hash: connection id → Connection protobuf (admin view), refreshed with <see cref="Connections"/>.</summary>
    public RedisKey ConnectionInfo { get; }

    /// <summary>String with a PX expiry: the replica sweeping the channel right now.</summary>
    public RedisKey SweepLock { get; }

    /// <summary>Sorted set: every message the history lists, score = received_at ms × 1000 + publish sequence % 1000
    /// (newest first by received time; the low digits keep a page token unambiguous). docs/history.md.</summary>
    public RedisKey History { get; }

    /// <summary>Hash: listed id → its record (state, settled time, dead-letter reason, series, every attempt), a
    /// compact string described in Queue/Scripts/common.lua.</summary>
    public RedisKey HistoryRecords { get; }

    /// <summary>Hash: settled (acked, expired, purged) listed id → its envelope, moved here from
    /// <see cref="Messages"/>; counted in the stats field <c>history_bytes</c>.</summary>
    public RedisKey HistoryEnvelopes { get; }

    /// <summary>Sorted set: the settled ids of <see cref="History"/> (same score): what the byte budget
    /// (<c>history_max_bytes</c>) drops, oldest first.</summary>
    public RedisKey HistorySettled { get; }

    /// <summary>String with a PX expiry: present while some replica serves a TailChannel call of the channel. Its name
    /// is also the pub/sub channel the scripts publish tail events on (only while it exists).</summary>
    public RedisKey Tailers { get; }

    /// <summary>The pub/sub channel of <see cref="Tailers"/>.</summary>
    public RedisChannel TailEvents => RedisChannel.Literal((string)Tailers!);

    /// <summary>The KEYS of every queue script, in the order Queue/Scripts/common.lua names them.</summary>
    public RedisKey[] ScriptKeys => _scriptKeys ??=
    [
        Config, Messages, State, Ready, Sequence, Delayed, Leases, Owners, Expiry, DeadLetters, DeadLetterInfo,
        IdempotencyKeys, IdempotencyExpiry, Settled, Stats, Connections, ConnectionInfo, SweepLock,
        History, HistoryRecords, HistoryEnvelopes, HistorySettled, Tailers,
    ];

    private RedisKey[]? _scriptKeys;

    /// <summary>Every key of the channel, for deletion.</summary>
    public RedisKey[] All() =>
    [
        Config, Endpoints, Messages, State, Ready, Sequence, Delayed, Leases, Owners, Expiry, DeadLetters,
        DeadLetterInfo, IdempotencyKeys, IdempotencyExpiry, Settled, Stats, Connections, ConnectionInfo, SweepLock,
        History, HistoryRecords, HistoryEnvelopes, HistorySettled, Tailers,
    ];
}

/// <summary>Keys that span channels. They live outside any channel's slot, so they are kept off hot paths
/// (Publish, deliveries, acks touch only <see cref="ChannelKeys"/>).</summary>
public static class GlobalKeys
{
    /// <summary>Sorted set: every channel name, score 0 (lexicographic order for paged listing).</summary>
    public static readonly RedisKey Channels = "wc:channels";

    /// <summary>Hash: <c>namespace/id</c> → channel name; one URL feeds one channel.</summary>
    public static readonly RedisKey EndpointIndex = "wc:endpoint-index";

    /// <summary>String: revision of the endpoint table, INCR on every change.</summary>
    public static readonly RedisKey EndpointRevision = "wc:endpoint-rev";

    /// <summary>Hash: connection id → channel name, so a connection can be found without its channel.</summary>
    public static readonly RedisKey ConnectionIndex = "wc:connection-index";

    /// <summary>String: the channel of a long-poll connection whose request ended, kept while its leases may still be
    /// acked over <c>POST /connect/ack</c> (expires after the channel's ack_timeout plus a margin).</summary>
    public static RedisKey PollConnection(string connectionId) => "wc:poll-connection:" + connectionId;

    /// <summary>Hash: replica id → Replica protobuf.</summary>
    public static readonly RedisKey Replicas = "wc:replicas";

    /// <summary>Sorted set: replica id → last heartbeat (unix ms).</summary>
    public static readonly RedisKey ReplicasAlive = "wc:replicas-alive";

    /// <summary>Pub/sub channel every replica subscribes to; payloads are <see cref="ClusterEvent"/>s.</summary>
    public static readonly RedisChannel Events = RedisChannel.Literal(EventsName);

    /// <summary>The name of <see cref="Events"/>, for Lua scripts that publish on it.</summary>
    public const string EventsName = "wc:events";

    /// <summary>The endpoint index field of an endpoint URL.</summary>
    public static string EndpointField(string @namespace, string endpointId) => @namespace + "/" + endpointId;
}

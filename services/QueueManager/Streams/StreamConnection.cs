using System.Diagnostics;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Telemetry;

namespace WebhookConnect.QueueManager.Streams;

/// <summary>
/// One established connection (SPEC §7): a delivery loop that leases messages while the connection has credits,
/// a reader that settles acks and nacks, a ping loop, and the single writer of the response stream.
/// Whatever ends the stream, <see cref="ConnectionRegistry.RemoveAsync"/> then releases the leases still held.
/// The session is the same for every protocol: gRPC hands it the Connect call's reader and writer, the HTTP/1.1
/// connector protocols (<c>Streams/Http1</c>) adapters that translate their JSON frames to and from the same
/// <see cref="ConnectRequest"/> and <see cref="ConnectResponse"/> messages, so leases, credits, acks, nacks, pings,
/// closes and drain are one piece of code.
/// </summary>
public sealed partial class StreamConnection
{
    private readonly MessageQueue _queue;
    private readonly ILogger _logger;
    private readonly TimeSpan _heartbeat;
    private readonly TimeSpan _pollInterval;
    private readonly Channel<Outgoing> _outbound;
    private readonly long _bufferBudget;
    private readonly Pulse _pulse = new();
    private readonly Lock _gate = new();
    private readonly QueueMetrics _metrics;
    /// <summary>Leased id → its lease: credits, local lease expiry, end-to-end latency, and the delivery span that an
    /// ack or nack continues (no Redis read for it).</summary>
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    /// <summary><c>deliver {channel}</c>, <c>ack {channel}</c>, <c>nack {channel}</c>: formatted once per stream, and only
    /// while traces are exported (DeliveryTracing).</summary>
    private SpanNames? _spanNames;
    private readonly TaskCompletionSource<Status> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _stopDeliveries;
    private long _delivered;
    private long _acked;
    private long _nacked;
    private long _lastActivityTicks;
    /// <summary>Envelope bytes leased and not yet written to the response stream (bounded by <see cref="_bufferBudget"/>).</summary>
    private long _bufferedBytes;

    public StreamConnection(
        Connection info,
        uint requestedMaxInFlight,
        DateTimeOffset channelCreatedAt,
        string tokenHash,
        MessageQueue queue,
        QueueMetrics metrics,
        TimeSpan heartbeat,
        long bufferBudget,
        ILogger logger)
    {
        _metrics = metrics;
        Info = info;
        RequestedMaxInFlight = requestedMaxInFlight;
        ChannelCreatedAt = channelCreatedAt;
        TokenHash = tokenHash;
        _queue = queue;
        _heartbeat = heartbeat;
        _bufferBudget = bufferBudget;
        _pollInterval = TimeSpan.FromSeconds(2);
        _logger = logger;
        _outbound = System.Threading.Channels.Channel.CreateBounded<Outgoing>(
            new BoundedChannelOptions((int)info.MaxInFlight + 16) { SingleReader = true });
        _lastActivityTicks = DateTimeOffset.UtcNow.UtcTicks;
    }

    /// <summary>The connector protocol (<see cref="ConnectProtocols"/>), shown by ListConnections and in metrics.</summary>
    public string Protocol => Info.Protocol;

    /// <summary>Whether the client sends frames the ping loop can expect (gRPC pongs): a peer silent for two heartbeat
    /// intervals is then dead. False for SSE (no client frames at all) and WebSocket (old connectors need not answer
    /// heartbeats; WebSocket ping/pong keep-alive detects a dead peer there).</summary>
    public bool ExpectsClientFrames { get; init; } = true;

    /// <summary>Whether <paramref name="messageId"/> is leased to this connection as far as this process knows.</summary>
    public bool Holds(string messageId)
    {
        lock (_gate)
        {
            return _leases.ContainsKey(messageId);
        }
    }

    /// <summary>Queues a protocol-level notice (an error frame of the HTTP/1.1 protocols) for the single writer;
    /// dropped when the buffer is full, so a client sending garbage cannot grow it.</summary>
    public bool TryPostNotice(string notice) => _outbound.Writer.TryWrite(new Outgoing(null, 0, Notice: notice));

    /// <summary>The admin view; counters are filled in by <see cref="Snapshot"/>.</summary>
    public Connection Info { get; }

    public string Id => Info.ConnectionId;

    /// <summary>What the connector asked for in Subscribe (0 = the channel's value).</summary>
    public uint RequestedMaxInFlight { get; }

    /// <summary>Identifies the channel incarnation the stream belongs to: a channel deleted and created again under
    /// the same name is another channel, and this stream must not continue on it.</summary>
    public DateTimeOffset ChannelCreatedAt { get; }

    /// <summary>Set once the stream ended and its registration is being removed; the registry no longer refreshes it.</summary>
    public bool Closed { get; set; }

    /// <summary>min(requested, channel max_in_flight); 0 requested means the channel's value (SPEC §6).</summary>
    public static int EffectiveMaxInFlight(uint requested, Channels.ChannelConfig config) =>
        requested == 0 ? config.MaxInFlight : (int)Math.Min(requested, (uint)config.MaxInFlight);

    /// <summary>Applies changed channel settings to the open stream (pause, a lowered or raised max_in_flight).</summary>
    public void Apply(Channels.ChannelConfig config)
    {
        Paused = config.Paused;
        Info.MaxInFlight = (uint)EffectiveMaxInFlight(RequestedMaxInFlight, config);
        _pulse.Set();
    }

    public string Channel => Info.Channel;

    /// <summary>SHA-256 of the token that authenticated the stream (re-checked when the channel's tokens change).</summary>
    public string TokenHash { get; }

    public bool Paused { get; set; }

    public bool Draining { get; private set; }

    public DateTimeOffset LastActivity => new(Interlocked.Read(ref _lastActivityTicks), TimeSpan.Zero);

    /// <summary>Wakes the delivery loop: new messages, a resumed channel, freed credits.</summary>
    public void Wake() => _pulse.Set();

    /// <summary>Completes with the status the connection was closed with (operator disconnect, revoked token, drain).</summary>
    public Task<Status> Ended => _closed.Task;

    /// <summary>For a connection without a delivery loop (a long-poll): waits for <see cref="Wake"/> or the timeout.</summary>
    public Task<bool> WaitForWakeAsync(TimeSpan timeout, CancellationToken cancellationToken) => _pulse.WaitAsync(timeout, cancellationToken);

    /// <summary>Ends the stream with <paramref name="status"/> (first close wins).</summary>
    public void Close(Status status) => _closed.TrySetResult(status);

    /// <summary>Server shutdown: no more deliveries, a <c>Draining</c> frame, then UNAVAILABLE once the client has
    /// settled what it holds or the grace period ends.</summary>
    public async Task DrainAsync(string reason, TimeSpan grace)
    {
        Draining = true;
        _pulse.Set();
        // Waits for room (the buffer may be full of deliveries), bounded: the status that follows says it anyway.
        try
        {
            using var room = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await _outbound.Writer.WriteAsync(new Outgoing(new ConnectResponse { Draining = new Draining { Reason = reason } }, 0), room.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            // The stream is ending or its connector does not read: the UNAVAILABLE status still ends it.
        }

        var deadline = DateTimeOffset.UtcNow + grace;
        while (DateTimeOffset.UtcNow < deadline && LeaseCount > 0 && !_closed.Task.IsCompleted)
        {
            await Task.Delay(50);
        }

        Close(new Status(StatusCode.Unavailable, $"queue-manager replica is shutting down ({reason}); reconnect"));
    }

    public int LeaseCount
    {
        get
        {
            lock (_gate)
            {
                return _leases.Count;
            }
        }
    }

    public string[] LeasedIds()
    {
        lock (_gate)
        {
            return [.. _leases.Keys];
        }
    }

    /// <summary>Forgets leases whose deadline passed: the sweep gives those messages to someone else, and a
    /// connector that never answers must not keep its credits forever.</summary>
    public void ForgetExpiredLeases(DateTimeOffset now, TimeSpan margin)
    {
        var freed = false;
        lock (_gate)
        {
            foreach (var (id, lease) in _leases)
            {
                // The deadline is on Redis' clock and the lease ends for real at the next sweep after it: wait a
                // margin longer, so a replica clock ahead of Redis' never frees a credit Redis still counts as leased.
                if (lease.Deadline + margin <= now)
                {
                    _leases.Remove(id);
                    freed = true;
                }
            }
        }

        if (freed)
        {
            _pulse.Set();
        }
    }

    public Connection Snapshot()
    {
        var snapshot = Info.Clone();
        snapshot.InFlight = (uint)LeaseCount;
        snapshot.Delivered = (ulong)Interlocked.Read(ref _delivered);
        snapshot.Acked = (ulong)Interlocked.Read(ref _acked);
        snapshot.Nacked = (ulong)Interlocked.Read(ref _nacked);
        snapshot.LastActivityAt = Timestamp.FromDateTimeOffset(LastActivity);
        return snapshot;
    }

    /// <summary>Runs the stream until the client half-closes (OK), the call is cancelled, or <see cref="Close"/>.
    /// Returns the status to end the call with, null for OK.</summary>
    public async Task<Status?> RunAsync(
        ConnectResponse subscribed,
        IAsyncStreamReader<ConnectRequest> requests,
        IServerStreamWriter<ConnectResponse> responses,
        CancellationToken callCancelled)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(callCancelled);
        _outbound.Writer.TryWrite(new Outgoing(subscribed, 0));
        var writer = WriteLoopAsync(responses, stop.Token);
        var reader = ReadLoopAsync(requests, stop.Token);
        var delivery = DeliveryLoopAsync(stop.Token);
        var pings = PingLoopAsync(stop.Token);

        var first = await Task.WhenAny(reader, writer, delivery, pings, _closed.Task);
        Status? result = null;
        // A loop may end because it closed the stream (the ping loop on a silent peer): the close wins.
        if (first == _closed.Task || _closed.Task.IsCompleted)
        {
            result = await _closed.Task;
        }
        else if (first == reader && reader.Status == TaskStatus.RanToCompletion)
        {
            // The client half-closed: a clean end (its unsettled leases are released by the caller).
            _closed.TrySetResult(Status.DefaultSuccess);
        }
        else if (first.IsFaulted)
        {
            result = first.Exception!.InnerException switch
            {
                RpcException rpc => rpc.Status,
                // The client went away (reset, cancelled call): nobody is left to tell.
                OperationCanceledException or IOException => null,
                var other => Failed(other ?? first.Exception),
            };
        }

        _outbound.Writer.TryComplete();
        if (result is { StatusCode: StatusCode.Unavailable or StatusCode.Aborted or StatusCode.NotFound or StatusCode.Unauthenticated })
        {
            // Let queued frames (Draining) reach the client before the status; bounded, the peer may not read.
            await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None));
        }

        await stop.CancelAsync();
        // The delivery loop is awaited to the end (a lease call in flight completes or fails with Redis), so every
        // lease it took is known when the caller releases them; the others get a bounded wait.
        await Task.WhenAny(Quiet(delivery), Task.Delay(TimeSpan.FromSeconds(30), CancellationToken.None));
        await Task.WhenAny(Task.WhenAll(Quiet(reader), Quiet(writer), Quiet(pings)), Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None));
        if (writer.IsCompleted)
        {
            // Only once the single reader is done: the buffer is read by one task at a time.
            EndUnwrittenDeliverySpans();
        }
        return result is { StatusCode: StatusCode.OK } ? null : result;
    }

    private async Task WriteLoopAsync(IServerStreamWriter<ConnectResponse> responses, CancellationToken cancellationToken)
    {
        var reader = _outbound.Reader;
        // Bytes written with BufferHint sit in Kestrel's response buffer until the next flush: they leave the budget
        // only once a flush completed (the flush waits for the peer's flow-control window), so a connector that
        // stops reading leaves at most StreamBufferBytes (plus one message) in this process.
        long unflushed = 0;
        while (await reader.WaitToReadAsync(cancellationToken))
        {
            while (reader.TryRead(out var outgoing))
            {
                // Coalesce a burst of deliveries into few HTTP/2 writes; flush with the last one.
                var flush = reader.Count == 0;
                responses.WriteOptions = flush ? null : new WriteOptions(WriteFlags.BufferHint);
                // With the token: a connector that stops reading must not pin the stream forever.
                try
                {
                    if (responses is IConnectFrameWriter frames)
                    {
                        await frames.WriteAsync(outgoing.Response, outgoing.Sequence, outgoing.Notice, cancellationToken);
                    }
                    else if (outgoing.Response is { } response)
                    {
                        await responses.WriteAsync(response, cancellationToken);
                    }
                }
                catch (Exception ex)
                {
                    DeliveryTracing.End(outgoing.Span, ex);
                    throw;
                }

                // The delivery span ends when its frame is on the stream; the settlement span continues it.
                DeliveryTracing.End(outgoing.Span);
                unflushed += outgoing.Bytes;
                if (flush && unflushed > 0)
                {
                    var left = Interlocked.Add(ref _bufferedBytes, -unflushed);
                    if (left + unflushed >= _bufferBudget && left < _bufferBudget)
                    {
                        // Room again: the delivery loop waits for it (see DeliveryLoopAsync).
                        _pulse.Set();
                    }

                    unflushed = 0;
                }
            }
        }
    }

    /// <summary>Frames left in the buffer when the stream ended are never written: their delivery spans end as failed
    /// (they would otherwise never be exported).</summary>
    private void EndUnwrittenDeliverySpans()
    {
        if (!DeliveryTracing.Enabled)
        {
            return;
        }

        while (_outbound.Reader.TryRead(out var unwritten))
        {
            if (unwritten.Span is { } span)
            {
                span.SetStatus(ActivityStatusCode.Error, "the stream ended before the delivery was written");
                span.Stop();
            }
        }
    }

    private async Task ReadLoopAsync(IAsyncStreamReader<ConnectRequest> requests, CancellationToken cancellationToken)
    {
        while (await requests.MoveNext(cancellationToken))
        {
            Interlocked.Exchange(ref _lastActivityTicks, DateTimeOffset.UtcNow.UtcTicks);
            var request = requests.Current;
            switch (request.FrameCase)
            {
                case ConnectRequest.FrameOneofCase.Ack when request.Ack.MessageIds.Count > MaxIdsPerFrame:
                    // One ack is one Lua call, which blocks Redis for every channel while it runs (issue 20, finding 7).
                    throw new RpcException(new Status(
                        StatusCode.InvalidArgument,
                        $"ack.message_ids: {request.Ack.MessageIds.Count} ids in one frame, at most {MaxIdsPerFrame} (the larger of 1000 and the stream's max_in_flight); send several frames"));
                case ConnectRequest.FrameOneofCase.Ack:
                    _ = await AckAsync(request.Ack);
                    break;
                case ConnectRequest.FrameOneofCase.Nack:
                    _ = await NackAsync(request.Nack);
                    break;
                case ConnectRequest.FrameOneofCase.Pong:
                    break;
                case ConnectRequest.FrameOneofCase.StopDeliveries:
                    _stopDeliveries = true;
                    break;
                case ConnectRequest.FrameOneofCase.Subscribe:
                    throw new RpcException(new Status(StatusCode.InvalidArgument, "a second subscribe frame on an established stream; open one stream per channel"));
                default:
                    throw new RpcException(new Status(StatusCode.InvalidArgument, "an empty frame (no ack, nack, pong or stop_deliveries set)"));
            }
        }
    }

    /// <summary>Settles the ids leased to this connection; returns how many were.</summary>
    public async Task<int> AckAsync(Ack ack)
    {
        if (ack.MessageIds.Count == 0)
        {
            return 0;
        }

        var spans = DeliveryTracing.Enabled ? StartAckSpans(ack) : null;
        int acked;
        try
        {
            acked = await _queue.AckAsync(Channel, Id, ack.MessageIds, ack.Reports);
        }
        catch (Exception ex)
        {
            EndSpans(spans, ex);
            throw;
        }

        EndSpans(spans);
        Interlocked.Add(ref _acked, acked);
        _metrics.Acked(Channel, acked);
        var now = DateTimeOffset.UtcNow;
        lock (_gate)
        {
            foreach (var id in ack.MessageIds)
            {
                if (_leases.Remove(id, out var lease))
                {
                    _metrics.EndToEnd(Channel, now - lease.ReceivedAt);
                }
            }
        }

        _pulse.Set();
        return acked;
    }

    /// <summary>One <c>ack {channel}</c> span per acked id this stream leased, each the child of its delivery span, all
    /// around the one Redis call that settles the frame. With a single id, the Redis command spans are its children.</summary>
    private List<Activity>? StartAckSpans(Ack ack)
    {
        var deliveries = new List<(string Id, ActivityContext Delivery)>(ack.MessageIds.Count);
        lock (_gate)
        {
            foreach (var id in ack.MessageIds)
            {
                if (_leases.TryGetValue(id, out var lease))
                {
                    deliveries.Add((id, lease.Delivery));
                }
            }
        }

        var name = SpanNamesOf().Ack;
        var previous = Activity.Current;
        List<Activity>? spans = null;
        foreach (var (id, delivery) in deliveries)
        {
            if (DeliveryTracing.StartSettlement(name, delivery, Channel, id, Id) is { } span)
            {
                (spans ??= []).Add(span);
            }
        }

        Activity.Current = spans is [var only] ? only : previous;
        return spans;
    }

    private static void EndSpans(List<Activity>? spans, Exception? failure = null)
    {
        if (spans is null)
        {
            return;
        }

        foreach (var span in spans)
        {
            DeliveryTracing.End(span, failure);
        }
    }

    /// <summary>Nacks one id; returns false when it was not leased to this connection.</summary>
    public async Task<bool> NackAsync(Nack nack)
    {
        Activity? span = null;
        if (DeliveryTracing.Enabled)
        {
            ActivityContext delivery;
            lock (_gate)
            {
                delivery = _leases.TryGetValue(nack.MessageId, out var lease) ? lease.Delivery : default;
            }

            span = DeliveryTracing.StartSettlement(SpanNamesOf().Nack, delivery, Channel, nack.MessageId, Id);
            if (span is not null)
            {
                DeliveryTracing.DescribeNack(span, nack);
            }
        }

        bool settled;
        try
        {
            settled = await _queue.NackAsync(Channel, Id, nack);
            if (settled)
            {
                Interlocked.Increment(ref _nacked);
                _metrics.Nacked(Channel, nack.Retry);
            }
        }
        catch (Exception ex)
        {
            DeliveryTracing.End(span, ex);
            throw;
        }

        DeliveryTracing.End(span);

        lock (_gate)
        {
            _leases.Remove(nack.MessageId);
        }

        _pulse.Set();
        return settled;
    }

    /// <summary>Most message ids one ack frame may carry: a connector never holds more than max_in_flight.</summary>
    public int MaxIdsPerFrame => Math.Max(MinIdsPerFrameLimit, (int)Info.MaxInFlight);

    public const int MinIdsPerFrameLimit = 1000;

    private async Task DeliveryLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var credits = (int)Info.MaxInFlight - LeaseCount;
            // Bytes not yet written count against the budget, so a connector that stops reading stops the leasing
            // instead of piling messages up here (issue 20, finding 7); its leases expire or are released as usual.
            var room = _bufferBudget - Interlocked.Read(ref _bufferedBytes);
            if (credits <= 0 || room <= 0 || _stopDeliveries || Draining)
            {
                await _pulse.WaitAsync(_pollInterval, cancellationToken);
                continue;
            }

            if (Paused)
            {
                // Still asked every poll interval below: deliver.lua checks the pause itself, so a resume whose
                // event was lost is noticed within one interval.
                await _pulse.WaitAsync(_pollInterval, cancellationToken);
            }

            var batch = await _queue.DeliverAsync(Channel, Id, credits, room, Info.ConnectorId, Info.Protocol);
            switch (batch.Status)
            {
                case LeaseStatus.Paused:
                    Paused = true;
                    continue;
                case LeaseStatus.Ok:
                    Paused = false;
                    break;
                case LeaseStatus.ConnectionGone:
                    // Deleted channel, or the registration lapsed during a long Redis outage: the registry's refresh
                    // re-registers or closes the stream; wait for it.
                    await _pulse.WaitAsync(_pollInterval, cancellationToken);
                    continue;
            }

            if (batch.Messages.Length == 0)
            {
                await _pulse.WaitAsync(_pollInterval, cancellationToken);
                continue;
            }

            var deadline = Timestamp.FromDateTimeOffset(batch.LeaseDeadline);
            var deliveries = new Outgoing[batch.Messages.Length];
            long bytes = 0;
            lock (_gate)
            {
                for (var i = 0; i < deliveries.Length; i++)
                {
                    var leased = batch.Messages[i];
                    var message = Message.Parser.ParseFrom(leased.Envelope);
                    message.Attempt = (uint)leased.Attempt;
                    var span = DeliveryTracing.Enabled ? DeliveryTracing.StartDelivery(SpanNamesOf().Deliver, message, Id) : null;
                    deliveries[i] = new Outgoing(new ConnectResponse { Delivery = new Delivery { Message = message, LeaseDeadline = deadline } }, leased.Envelope.Length, span, Sequence: leased.Sequence);
                    bytes += leased.Envelope.Length;
                    _leases[leased.MessageId] = new Lease(batch.LeaseDeadline, message.ReceivedAt?.ToDateTimeOffset() ?? DateTimeOffset.UtcNow, span?.Context ?? default);
                }
            }

            Interlocked.Add(ref _bufferedBytes, bytes);
            Interlocked.Add(ref _delivered, deliveries.Length);
            _metrics.Delivered(Channel, deliveries.Length);
            for (var i = 0; i < deliveries.Length; i++)
            {
                try
                {
                    await _outbound.Writer.WriteAsync(deliveries[i], cancellationToken);
                }
                catch (Exception ex)
                {
                    // The stream is ending: these frames are never written (their leases are released).
                    for (var unsent = i; unsent < deliveries.Length; unsent++)
                    {
                        DeliveryTracing.End(deliveries[unsent].Span, ex);
                    }

                    throw;
                }
            }
        }
    }

    private async Task PingLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_heartbeat);
        ulong nonce = 0;
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            if (ExpectsClientFrames && DateTimeOffset.UtcNow - LastActivity > 2 * _heartbeat + TimeSpan.FromSeconds(1))
            {
                LogPeerSilent(_logger, Id, Channel);
                Close(new Status(StatusCode.Unavailable, "no frame from the connector for two heartbeat intervals"));
                return;
            }

            _outbound.Writer.TryWrite(new Outgoing(new ConnectResponse { Ping = new Ping { Nonce = ++nonce, SentAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) } }, 0));
        }
    }

    private Status Failed(Exception exception)
    {
        LogLoopFailed(_logger, exception, Id);
        return new Status(StatusCode.Unavailable, "queue-manager could not reach Redis or failed internally; reconnect");
    }

    private static async Task Quiet(Task task)
    {
        try
        {
            await task;
        }
        catch
        {
            // Already accounted for by RunAsync; here we only wait for the loop to end.
        }
    }

    /// <summary>A frame for the single writer, with the message bytes it holds against the stream's buffer budget and,
    /// for a delivery while traces are exported, its span (ended once the frame is written).</summary>
    /// <para>A notice (an HTTP/1.1 protocol error frame) has no response; <paramref name="Sequence"/> is the delivery's
    /// place in the channel's queue, for the protocols that show it.</para>
    private readonly record struct Outgoing(ConnectResponse? Response, int Bytes, Activity? Span = null, long Sequence = 0, string? Notice = null);

    /// <summary>One in-flight message of this stream. <paramref name="Delivery"/> is the context of its delivery span
    /// (default when traces are not exported).</summary>
    private readonly record struct Lease(DateTimeOffset Deadline, DateTimeOffset ReceivedAt, ActivityContext Delivery);

    private sealed record SpanNames(string Deliver, string Ack, string Nack);

    private SpanNames SpanNamesOf() => _spanNames ??= new SpanNames("deliver " + Channel, "ack " + Channel, "nack " + Channel);

    [LoggerMessage(Level = LogLevel.Error, Message = "Connection {ConnectionId}: a stream loop failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception, string connectionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {ConnectionId} on channel {Channel}: the connector went silent for two heartbeat intervals; closing")]
    private static partial void LogPeerSilent(ILogger logger, string connectionId, string channel);
}

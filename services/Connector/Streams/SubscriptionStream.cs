using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Connector.Delivery;
using WebhookConnect.Connector.Protocols;
using WebhookConnect.Connector.Telemetry;
using WebhookConnect.Contracts.V1;
using ConnectClient = WebhookConnect.Contracts.V1.ConnectService.ConnectServiceClient;

namespace WebhookConnect.Connector.Streams;

/// <summary>
/// One subscription's Connect stream for the life of the process (SPEC §7, §9): subscribe, deliver each message to its
/// target, ack or nack it, answer pings; reconnect for ever with backoff when the stream ends; on shutdown stop
/// deliveries, let in-flight ones finish within the grace period, nack the rest, and half-close.
/// </summary>
/// <remarks>
/// One writer per stream: everything the connector sends (subscribe, acks, nacks, pongs, stop) goes through a
/// bounded outbox drained by a single loop, which merges consecutive acks into one frame. The outbox holds at most
/// max_in_flight settlements plus a few control frames, and the server never has more than max_in_flight
/// deliveries outstanding, so producers practically never wait.
/// </remarks>
public sealed partial class SubscriptionStream
{
    private const int MaxAckBatch = 500;

    private readonly SubscriptionOptions _subscription;
    private readonly ConnectorOptions _options;
    private readonly ConnectClient _client;
    private readonly Http1Endpoint _http1;
    private readonly TargetDelivery _delivery;
    private readonly ConnectorMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ReconnectBackoff _backoff;
    private volatile bool _up;
    /// <summary><c>process {channel}</c>, formatted once and only while traces are exported.</summary>
    private string? _spanName;
    /// <summary>The protocol of the last subscribed connection (logged when it changes).</summary>
    private string? _protocolInUse;

    public SubscriptionStream(SubscriptionOptions subscription, ConnectorOptions options, ConnectClient client, Http1Endpoint http1, TargetDelivery delivery,
        ConnectorMetrics metrics, ILogger logger, Random random)
    {
        _subscription = subscription;
        _options = options;
        _client = client;
        _http1 = http1;
        _delivery = delivery;
        _metrics = metrics;
        _logger = logger;
        _backoff = new ReconnectBackoff(options.Reconnect.InitialDelay, options.Reconnect.MaxDelay, random);
        metrics.StreamUp(subscription.Channel, false);
    }

    public string Channel => _subscription.Channel;

    /// <summary>True while the stream is subscribed (for /readyz and the stream_up gauge).</summary>
    public bool IsUp => _up;

    /// <summary>Runs until <paramref name="stopping"/> fires and the stream has been drained.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            var end = await ConnectOnceAsync(stopping);
            if (stopping.IsCancellationRequested)
            {
                return;
            }

            TimeSpan delay;
            var refused = end.Status.StatusCode is StatusCode.Unauthenticated or StatusCode.NotFound or StatusCode.PermissionDenied;
            if (refused)
            {
                // An operator has to act (wrong token, unknown channel): retry slowly and say so loudly.
                delay = _options.Reconnect.AuthFailureDelay;
                LogRefused(_logger, Channel, end.Status.StatusCode, end.Status.Detail, delay);
            }
            else
            {
                if (end.Healthy)
                {
                    _backoff.Reset();
                }

                delay = _backoff.NextDelay();
                LogReconnecting(_logger, Channel, end.Status.StatusCode, end.Status.Detail, delay, _backoff.Failures);
            }

            _metrics.StreamEnded(Channel, end.Status.StatusCode.ToString());
            if (!await WaitBeforeReconnectAsync(delay, end.Token, watchToken: refused, stopping))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Waits <paramref name="delay"/> before the next attempt. After a refusal (<paramref name="watchToken"/>) the token
    /// (file or variable) is read every half second, and a token that differs from the refused one ends the wait at
    /// once: an operator who fixes or rotates it should not wait the whole delay. Returns false when stopping.
    /// </summary>
    private async Task<bool> WaitBeforeReconnectAsync(TimeSpan delay, string? refused, bool watchToken, CancellationToken stopping)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (waited.Elapsed < delay)
        {
            var step = delay - waited.Elapsed;
            try
            {
                await Task.Delay(watchToken && step > TokenCheckInterval ? TokenCheckInterval : step, stopping);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            if (watchToken && TokenChanged(refused))
            {
                LogTokenChanged(_logger, Channel);
                return true;
            }
        }

        return !stopping.IsCancellationRequested;
    }

    private static readonly TimeSpan TokenCheckInterval = TimeSpan.FromMilliseconds(500);

    private bool TokenChanged(string? refused)
    {
        try
        {
            return !string.Equals(TokenSource.Read(_subscription), refused, StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return false;
        }
    }

    private async Task<StreamEnd> ConnectOnceAsync(CancellationToken stopping)
    {
        string token;
        try
        {
            token = TokenSource.Read(_subscription);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return new StreamEnd(new Status(StatusCode.Unauthenticated, "token unavailable: " + ex.Message), Healthy: false, Token: null);
        }

        var configured = _options.QueueManager.Protocol;
        if (configured != ConnectProtocols.Auto)
        {
            return await ConnectWithAsync(configured, token, $"configured ({configured})", stopping);
        }

        // auto (SPEC §16): gRPC on every attempt, so a connector whose proxy goes away is back on gRPC at the next
        // reconnect; WebSocket right away when the gRPC handshake shows that HTTP/2 does not get through.
        var end = await ConnectWithAsync(ConnectProtocols.Grpc, token, "auto: HTTP/2 gets through", stopping);
        if (end.Subscribed || stopping.IsCancellationRequested || !Http2Blocked.Test(end.Error, out var reason))
        {
            return end;
        }

        if (_protocolInUse != ConnectProtocols.WebSocket)
        {
            LogFallback(_logger, Channel, reason);
        }

        return await ConnectWithAsync(ConnectProtocols.WebSocket, token, "auto: gRPC handshake failed: " + reason, stopping);
    }

    private async Task<StreamEnd> ConnectWithAsync(string protocol, string token, string why, CancellationToken stopping)
    {
        using var callCancel = new CancellationTokenSource();
        using var call = OpenCall(protocol, token, callCancel.Token);
        var connection = new Connection(this, call, callCancel, why);
        return await connection.RunAsync(stopping) with { Token = token };
    }

    private IConnectCall OpenCall(string protocol, string token, CancellationToken cancel)
    {
        var connectorId = _options.ConnectorId;
        switch (protocol)
        {
            case ConnectProtocols.WebSocket:
                return new WebSocketConnectCall(_http1, Channel, token, connectorId, TimeProvider.System, cancel, _logger);
            case ConnectProtocols.Sse:
                return new SseConnectCall(_http1, Channel, token, connectorId, cancel, _logger);
            case ConnectProtocols.LongPoll:
                return new LongPollConnectCall(_http1, Channel, token, connectorId, cancel, _logger);
            default:
                var headers = new Metadata { { "authorization", "Bearer " + token } };
                return new GrpcConnectCall(_client.Connect(headers, cancellationToken: cancel));
        }
    }

    /// <summary>How an attempt ended: the status, whether it was healthy, the token it used, whether it got as far as
    /// Subscribed, and the failure itself (for <c>auto</c>'s HTTP/2 test).</summary>
    private readonly record struct StreamEnd(Status Status, bool Healthy, string? Token = null, bool Subscribed = false, Exception? Error = null);

    /// <summary>One attempt: a single Connect call and the deliveries it carries.</summary>
    private sealed class Connection
    {
        private readonly SubscriptionStream _owner;
        private readonly IConnectCall _call;
        private readonly string _why;
        private readonly CancellationTokenSource _callCancel;
        private readonly Channel<ConnectRequest> _outbox;
        private readonly InFlightCounter _inFlight = new();
        private readonly CancellationTokenSource _deliveriesCancel = new();
        private long _subscribedAt;
        private bool _delivered;
        private volatile bool _stopping;

        public Connection(SubscriptionStream owner, IConnectCall call, CancellationTokenSource callCancel, string why)
        {
            _owner = owner;
            _call = call;
            _why = why;
            _callCancel = callCancel;
            var capacity = Math.Max(owner._subscription.MaxInFlight, 1000) + 64;
            _outbox = System.Threading.Channels.Channel.CreateBounded<ConnectRequest>(new BoundedChannelOptions(capacity)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
        }

        private ILogger Logger => _owner._logger;

        private string ChannelName => _owner.Channel;

        public async Task<StreamEnd> RunAsync(CancellationToken stopping)
        {
            var writer = WriteLoopAsync();
            _outbox.Writer.TryWrite(new ConnectRequest
            {
                Subscribe = new Subscribe
                {
                    Channel = ChannelName,
                    ConnectorId = _owner._options.ConnectorId,
                    MaxInFlight = (uint)_owner._subscription.MaxInFlight,
                    ConnectorVersion = typeof(SubscriptionStream).Assembly.GetName().Version?.ToString() ?? "",
                },
            });

            Task? drain = null;
            var onStop = stopping.Register(() => drain = DrainAsync());
            Status status;
            Exception? error = null;
            try
            {
                while (await _call.ResponseStream.MoveNext(CancellationToken.None))
                {
                    var response = _call.ResponseStream.Current;
                    switch (response.FrameCase)
                    {
                        case ConnectResponse.FrameOneofCase.Subscribed:
                            OnSubscribed(response.Subscribed);
                            break;
                        case ConnectResponse.FrameOneofCase.Delivery:
                            OnDelivery(response.Delivery);
                            break;
                        case ConnectResponse.FrameOneofCase.Ping:
                            await SendAsync(new ConnectRequest { Pong = new Pong { Nonce = response.Ping.Nonce } });
                            break;
                        case ConnectResponse.FrameOneofCase.Draining:
                            LogServerDraining(Logger, ChannelName, response.Draining.Reason);
                            break;
                    }
                }

                status = Status.DefaultSuccess;
            }
            catch (RpcException ex)
            {
                status = ex.Status;
                error = ex;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException or System.Net.WebSockets.WebSocketException)
            {
                status = new Status(StatusCode.Unavailable, ex.Message);
                error = ex;
            }

            await onStop.DisposeAsync();
            var healthy = _delivered || (_subscribedAt != 0 && Stopwatch.GetElapsedTime(_subscribedAt) >= _owner._options.Reconnect.HealthyAfter);
            SetUp(false);

            // The stream is gone: its leases are released and the server redelivers; results of calls still running
            // could not be reported on it, so they are cut short.
            if (drain is not null)
            {
                await drain;
            }

            await _deliveriesCancel.CancelAsync();
            await _inFlight.WhenZero();
            _outbox.Writer.TryComplete();
            await _callCancel.CancelAsync();
            await writer;
            _deliveriesCancel.Dispose();
            return new StreamEnd(status, healthy, Subscribed: _subscribedAt != 0, Error: error);
        }

        private void OnSubscribed(Subscribed subscribed)
        {
            _subscribedAt = Stopwatch.GetTimestamp();
            SetUp(true);
            if (_owner._protocolInUse != _call.Protocol)
            {
                _owner._protocolInUse = _call.Protocol;
                LogProtocol(Logger, ChannelName, _call.Protocol, _why);
            }

            _owner._metrics.ProtocolInUse(ChannelName, _call.Protocol);
            LogSubscribed(Logger, ChannelName, _call.Protocol, subscribed.ConnectionId, subscribed.ReplicaId, subscribed.MaxInFlight, subscribed.Paused);
        }

        private void SetUp(bool up)
        {
            _owner._up = up;
            _owner._metrics.StreamUp(ChannelName, up);
        }

        private void OnDelivery(Contracts.V1.Delivery delivery)
        {
            _delivered = true;
            _inFlight.Add();

            // Not awaited: deliveries run concurrently (at most max_in_flight, the server's credit), each reporting
            // its own ack or nack through the outbox and leaving the counter when done.
            _ = DeliverAsync(delivery.Message);
        }

        private async Task DeliverAsync(Message message)
        {
            // The delivery's span: the target call and the ack or nack sent after its answer belong to it.
            using var span = DeliveryTracing.Source.HasListeners() ? DeliveryTracing.Start(_owner._spanName ??= "process " + ChannelName, message) : null;
            try
            {
                DeliveryResult result;
                try
                {
                    result = await _owner._delivery.DeliverAsync(message, _owner._subscription, _deliveriesCancel.Token);
                }
                catch (OperationCanceledException)
                {
                    result = new DeliveryResult(DeliveryOutcome.Retry, 0, "connector stopped before the target answered");
                }
                catch (Exception ex)
                {
                    result = new DeliveryResult(DeliveryOutcome.Retry, 0, "connector error: " + ex.Message);
                    LogDeliveryError(Logger, ChannelName, message.MessageId, ex);
                }

                var took = result.TargetDuration is { } d ? Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(d) : null;
                var frame = result.Outcome == DeliveryOutcome.Acked
                    ? new ConnectRequest
                    {
                        Ack = new Ack
                        {
                            MessageIds = { message.MessageId },
                            // What the target answered, for the message history (docs/history.md).
                            Reports = { new TargetReport { MessageId = message.MessageId, TargetStatusCode = (uint)result.StatusCode, TargetDuration = took } },
                        },
                    }
                    : new ConnectRequest
                    {
                        Nack = new Nack
                        {
                            MessageId = message.MessageId,
                            Retry = result.Outcome == DeliveryOutcome.Retry,
                            Reason = result.Reason,
                            TargetStatusCode = (uint)result.StatusCode,
                            TargetDuration = took,
                        },
                    };
                DeliveryTracing.Settled(span, result);
                if (result.Outcome != DeliveryOutcome.Acked)
                {
                    LogNack(Logger, ChannelName, message.MessageId, message.Attempt, result.Outcome == DeliveryOutcome.Retry, result.Reason);
                }

                if (await SendAsync(frame))
                {
                    _owner._metrics.Settled(ChannelName, result);
                }
            }
            finally
            {
                _inFlight.Done();
            }
        }

        /// <summary>SIGTERM: no new deliveries, in-flight ones finish within the grace period (the rest are nacked
        /// with retry), then the request stream is half-closed and the server completes the call.</summary>
        private async Task DrainAsync()
        {
            _stopping = true;
            var grace = _owner._options.DrainGracePeriod;
            LogDraining(Logger, ChannelName, _inFlight.Count, grace);
            await SendAsync(new ConnectRequest { StopDeliveries = new StopDeliveries() });
            try
            {
                await _inFlight.WhenZero().WaitAsync(grace);
            }
            catch (TimeoutException)
            {
                LogGraceExpired(Logger, ChannelName, _inFlight.Count);
                await _deliveriesCancel.CancelAsync();
            }

            // Cancelled deliveries still report their nack before the counter reaches zero.
            await _inFlight.WhenZero();
            _outbox.Writer.TryComplete();

            // The server answers the half-close by completing the call; don't wait for ever.
            _callCancel.CancelAfter(TimeSpan.FromSeconds(5));
        }

        private async ValueTask<bool> SendAsync(ConnectRequest frame)
        {
            try
            {
                await _outbox.Writer.WriteAsync(frame, _callCancel.Token);
                return true;
            }
            catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
            {
                return false; // The stream ended; queue-manager redelivers what was not settled.
            }
        }

        private async Task WriteLoopAsync()
        {
            var reader = _outbox.Reader;
            try
            {
                while (await reader.WaitToReadAsync(_callCancel.Token))
                {
                    while (reader.TryRead(out var frame))
                    {
                        if (frame.FrameCase == ConnectRequest.FrameOneofCase.Ack)
                        {
                            while (frame.Ack.MessageIds.Count < MaxAckBatch && reader.TryPeek(out var next) &&
                                next.FrameCase == ConnectRequest.FrameOneofCase.Ack && reader.TryRead(out next))
                            {
                                frame.Ack.MessageIds.Add(next.Ack.MessageIds);
                                frame.Ack.Reports.Add(next.Ack.Reports);
                            }
                        }

                        // More frames waiting: let this one share a flush with them.
                        await _call.WriteAsync(frame, more: reader.Count > 0);
                    }
                }

                if (_stopping)
                {
                    await _call.CompleteAsync();
                }
            }
            catch (Exception ex) when (ex is RpcException or IOException or OperationCanceledException or InvalidOperationException or HttpRequestException or System.Net.WebSockets.WebSocketException)
            {
                // The call ended; the read loop reports why.
            }
        }
    }

    /// <summary>Deliveries started and not yet settled, and a way to wait until there are none.</summary>
    private sealed class InFlightCounter
    {
        private readonly Lock _gate = new();
        private int _count;
        private TaskCompletionSource? _zero;

        public int Count
        {
            get
            {
                lock (_gate)
                {
                    return _count;
                }
            }
        }

        public void Add()
        {
            lock (_gate)
            {
                _count++;
            }
        }

        public void Done()
        {
            TaskCompletionSource? zero = null;
            lock (_gate)
            {
                if (--_count == 0)
                {
                    (zero, _zero) = (_zero, null);
                }
            }

            zero?.TrySetResult();
        }

        public Task WhenZero()
        {
            lock (_gate)
            {
                return _count == 0 ? Task.CompletedTask : (_zero ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Subscribed to channel {Channel} over {Protocol}: connection {ConnectionId} on replica {ReplicaId}, max in flight {MaxInFlight}, paused {Paused}")]
    private static partial void LogSubscribed(ILogger logger, string channel, string protocol, string connectionId, string replicaId, uint maxInFlight, bool paused);

    [LoggerMessage(Level = LogLevel.Information, Message = "Channel {Channel} uses protocol {Protocol} ({Why})")]
    private static partial void LogProtocol(ILogger logger, string channel, string protocol, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Channel {Channel}: gRPC does not get through to queue-manager ({Reason}); falling back to WebSocket")]
    private static partial void LogFallback(ILogger logger, string channel, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream of channel {Channel} ended ({Status}: {Detail}); reconnecting in {Delay} (attempt {Failures})")]
    private static partial void LogReconnecting(ILogger logger, string channel, StatusCode status, string detail, TimeSpan delay, int failures);

    [LoggerMessage(Level = LogLevel.Error, Message = "QUEUE-MANAGER REFUSED channel {Channel}: {Status}: {Detail}. Check the channel name and its token (token file, token env); retrying in {Delay}")]
    private static partial void LogRefused(ILogger logger, string channel, StatusCode status, string detail, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "The token of channel {Channel} changed; reconnecting now")]
    private static partial void LogTokenChanged(ILogger logger, string channel);

    [LoggerMessage(Level = LogLevel.Information, Message = "queue-manager is draining channel {Channel}'s stream: {Reason}")]
    private static partial void LogServerDraining(ILogger logger, string channel, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping channel {Channel}: {InFlight} deliveries in flight, grace period {Grace}")]
    private static partial void LogDraining(ILogger logger, string channel, int inFlight, TimeSpan grace);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grace period over on channel {Channel}: nacking {InFlight} unfinished deliveries for redelivery")]
    private static partial void LogGraceExpired(ILogger logger, string channel, int inFlight);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Nack {MessageId} on channel {Channel} (attempt {Attempt}, retry {Retry}): {Reason}")]
    private static partial void LogNack(ILogger logger, string channel, string messageId, uint attempt, bool retry, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Delivery of {MessageId} on channel {Channel} failed unexpectedly")]
    private static partial void LogDeliveryError(ILogger logger, string channel, string messageId, Exception exception);
}

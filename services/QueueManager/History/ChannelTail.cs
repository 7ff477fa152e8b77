using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Queue;

namespace WebhookConnect.QueueManager.History;

/// <summary>
/// TailChannel (docs/history.md): the scripts publish a channel's events on its pub/sub channel while the channel's
/// <c>tailers</c> key exists; each call subscribes, keeps the key alive, and forwards events through one bounded
/// channel to one writer loop (grpc-dotnet's health Watch). The subscription callback never waits: when the reader
/// is too slow and the buffer is full, the call ends with RESOURCE_EXHAUSTED; delivery never waits for a tail.
/// </summary>
public sealed partial class ChannelTail(MessageQueue queue, IConnectionMultiplexer redis, IOptions<QueueManagerOptions> options, ILogger<ChannelTail> logger)
{
    /// <summary>How long the tailers key lives without a refresh; refreshed every third of it.</summary>
    private static readonly TimeSpan TailersLifetime = TimeSpan.FromSeconds(30);

    /// <summary>After a cut-off, how long the write in progress may still wait for the reader before the stream is
    /// reset (a reader that never reads again would otherwise hold the call open).</summary>
    private static readonly TimeSpan CutOffGrace = TimeSpan.FromSeconds(30);

    public async Task RunAsync(TailChannelRequest request, IServerStreamWriter<TailChannelResponse> writer, CancellationToken cancellationToken)
    {
        if (!ChannelNames.IsValid(request.Channel))
        {
            throw ChannelException.Invalid($"channel = '{(request.Channel.Length > 80 ? request.Channel[..80] + "…" : request.Channel)}': must match {ChannelNames.Rule}");
        }

        var keys = queue.KeysOf(request.Channel);
        var db = redis.GetDatabase();
        if (!await db.KeyExistsAsync(keys.Config))
        {
            throw ChannelException.ChannelNotFound(request.Channel);
        }

        var capacity = options.Value.TailBufferEvents;
        var events = Channel.CreateBounded<TailChannelResponse>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true });
        var waitingAtCutOff = -1;
        // Cancelled at the cut-off: stops refreshing the tailers key; the write in progress gets CutOffGrace more.
        using var cutOff = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var writeDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var subscription = await redis.GetSubscriber().SubscribeAsync(keys.TailEvents);
        Task? refresh = null;
        try
        {
            subscription.OnMessage(message =>
            {
                if (Parse(message.Message, request.IncludeBody) is { } tailEvent && !events.Writer.TryWrite(tailEvent) && events.Writer.TryComplete())
                {
                    Volatile.Write(ref waitingAtCutOff, events.Reader.Count);
                    cutOff.Cancel();
                    writeDeadline.CancelAfter(CutOffGrace);
                }
            });
            await db.StringSetAsync(keys.Tailers, "1", TailersLifetime);
            refresh = RefreshAsync(db, keys.Tailers, cutOff.Token);
            await writer.WriteAsync(new TailChannelResponse { Kind = TailEventKind.Started, At = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) }, writeDeadline.Token);
            // One writer: this loop. After a cut-off it writes nothing more (the write in progress may finish, so the
            // status follows the events the reader already has), and the call ends with RESOURCE_EXHAUSTED.
            await foreach (var tailEvent in events.Reader.ReadAllAsync(cancellationToken))
            {
                if (Volatile.Read(ref waitingAtCutOff) >= 0)
                {
                    break;
                }

                await writer.WriteAsync(tailEvent, writeDeadline.Token);
            }

            var waiting = Volatile.Read(ref waitingAtCutOff);
            LogTooSlow(logger, request.Channel, waiting);
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"tail reader too slow: {waiting.ToString(CultureInfo.InvariantCulture)} events were waiting (QueueManager:TailBufferEvents = {capacity.ToString(CultureInfo.InvariantCulture)}); tail again to resume"));
        }
        finally
        {
            await cutOff.CancelAsync();
            await subscription.UnsubscribeAsync();
            if (refresh is not null)
            {
                await refresh;
            }
        }
    }

    private static async Task RefreshAsync(IDatabase db, RedisKey tailers, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TailersLifetime / 3, cancellationToken);
                await db.StringSetAsync(tailers, "1", TailersLifetime);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (Errors.IsRedisFailure(ex))
        {
            // The key lapses: scripts stop publishing and the tail sees nothing until Redis is back; it does not end.
        }
    }

    /// <summary>One event as the scripts publish it (fields separated by US, common.lua).</summary>
    internal static TailChannelResponse? Parse(RedisValue payload, bool includeBody)
    {
        var bytes = (byte[])payload!;
        var span = bytes.AsSpan();
        var fields = new string[3];
        for (var i = 0; i < 3; i++)
        {
            var end = span.IndexOf((byte)HistoryText.FieldSeparator);
            if (end < 0)
            {
                if (i < 2)
                {
                    return null;
                }

                end = span.Length;
            }

            fields[i] = Encoding.UTF8.GetString(span[..end]);
            span = end < span.Length ? span[(end + 1)..] : [];
        }

        var result = new TailChannelResponse
        {
            MessageId = fields[2],
            At = HistoryText.FromMs(fields[1]),
        };
        switch (fields[0])
        {
            case "A" or "R":
                result.Kind = fields[0] == "A" ? TailEventKind.Accepted : TailEventKind.Resent;
                var message = Message.Parser.ParseFrom(span);
                result.BodySize = (uint)message.Body.Length;
                if (!includeBody)
                {
                    message.LeaveOutContents();
                }

                result.Message = message;
                break;
            case "D":
                result.Kind = TailEventKind.Delivered;
                result.Attempt = HistoryRecords.ToAttempt(Encoding.UTF8.GetString(span));
                break;
            case "S":
                result.Kind = TailEventKind.Settled;
                var rest = Encoding.UTF8.GetString(span).Split(HistoryText.FieldSeparator, 5);
                result.Attempt = rest.Length == 5 && rest[4].Length > 0
                    ? HistoryRecords.ToAttempt(rest[4])
                    : new DeliveryAttempt
                    {
                        Outcome = HistoryRecords.Outcome(rest[0]),
                        SettledAt = result.At,
                        TargetStatusCode = rest.Length > 1 ? HistoryText.UInt(rest[1]) : 0,
                        TargetDuration = rest.Length > 2 ? HistoryText.FromMicroseconds(rest[2]) : null,
                        Error = rest.Length > 3 ? rest[3] : "",
                    };
                break;
            case "X":
                result.Kind = TailEventKind.DeadLettered;
                result.DeadLetterReason = HistoryRecords.Reason(Encoding.UTF8.GetString(span));
                break;
            case "E":
                result.Kind = TailEventKind.Expired;
                break;
            default:
                return null;
        }

        return result;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A tail of channel {Channel} read too slowly and was cut off with {Waiting} events waiting")]
    private static partial void LogTooSlow(ILogger logger, string channel, int waiting);
}

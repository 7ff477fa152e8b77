using System.Globalization;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using StackExchange.Redis;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Redis;

namespace WebhookConnect.QueueManager.History;

/// <summary>
/// The message history of a channel (docs/history.md): ListMessages, GetMessage, ResendMessage, ReplayRange. The
/// scripts keep it (common.lua); this class reads it and queues resends through resend.lua. Every read is a bounded
/// number of Redis calls per page, whatever the history holds.
/// </summary>
public sealed class MessageHistory(MessageQueue queue, IConnectionMultiplexer redis)
{
    private static readonly RedisValue EventsChannel = GlobalKeys.EventsName;

    /// <summary>Most history entries one ListMessages page examines (so a selective filter costs a bounded amount of
    /// work per call; the caller follows next_page_token).</summary>
    public const int ScanPerPage = 500;
    private const int ReplayChunk = 200;
    private const int ReadChunk = 50;

    /// <summary>Envelope bytes after which a ListMessages page stops examining entries.</summary>
    private const long ReadBytesPerPage = 16L * 1024 * 1024;

    private IDatabase Db => redis.GetDatabase();

    public async Task<ListMessagesResponse> ListAsync(ListMessagesRequest request)
    {
        await RequireChannelAsync(request.Channel);
        var pageSize = request.PageSize switch
        {
            0 => 50,
            > 500 => throw ChannelException.Invalid($"page_size = {request.PageSize}: must be between 1 and 500 (0 means 50)"),
            _ => (int)request.PageSize,
        };
        var filter = Filter.From(request);
        var (cursorScore, cursorId) = ParseToken(request.PageToken);
        var max = cursorScore ?? (filter.Before is { } before ? (before * 1000) - 1 : double.PositiveInfinity);
        var min = filter.After is { } after ? after * 1000 : double.NegativeInfinity;
        var keys = queue.KeysOf(request.Channel);
        var entries = await Db.SortedSetRangeByScoreWithScoresAsync(keys.History, min, max, Exclude.None, Order.Descending, 0, ScanPerPage + 1);
        var candidates = new List<SortedSetEntry>(entries.Length);
        foreach (var entry in entries)
        {
            // Entries of the cursor's score up to and including the cursor were on the previous page.
            if (cursorId is not null && entry.Score == cursorScore && string.CompareOrdinal(entry.Element!, cursorId) >= 0)
            {
                continue;
            }

            candidates.Add(entry);
        }

        var more = entries.Length > ScanPerPage;
        if (candidates.Count > ScanPerPage)
        {
            candidates.RemoveRange(ScanPerPage, candidates.Count - ScanPerPage);
        }

        var response = new ListMessagesResponse();
        Found?[] read = [];
        var readFrom = 0;
        long bytesRead = 0;
        for (var i = 0; i < candidates.Count; i++)
        {
            if (i == readFrom + read.Length)
            {
                // Envelopes are read in chunks, so a page that fills early reads little, and a page stops once it has
                // read ReadBytesPerPage of envelopes (large bodies): the caller continues from next_page_token.
                if (bytesRead >= ReadBytesPerPage)
                {
                    response.NextPageToken = Token(candidates[i - 1]);
                    return response;
                }

                readFrom = i;
                read = await ReadAsync(keys, [.. candidates.Skip(i).Take(ReadChunk).Select(c => c.Element)]);
                bytesRead += read.Sum(f => (long)(f?.Envelope?.Length ?? 0));
            }

            if (read[i - readFrom] is not { } found || !filter.Matches(found.Record, found.Envelope))
            {
                continue;
            }

            var record = HistoryRecords.ToRecord(found.Record, found.Envelope);
            if (!request.IncludeBody)
            {
                record.Message?.LeaveOutContents();
            }

            response.Messages.Add(record);
            if (response.Messages.Count == pageSize)
            {
                if (i < candidates.Count - 1 || more)
                {
                    response.NextPageToken = Token(candidates[i]);
                }

                return response;
            }
        }

        if (more && candidates.Count > 0)
        {
            response.NextPageToken = Token(candidates[^1]);
        }

        return response;
    }

    public async Task<GetMessageResponse> GetAsync(GetMessageRequest request)
    {
        await RequireChannelAsync(request.Channel);
        RequireId(request.MessageId);
        var found = (await ReadAsync(queue.KeysOf(request.Channel), [request.MessageId]))[0]
            ?? throw NotInHistory(request.Channel, request.MessageId);
        return new GetMessageResponse { Record = HistoryRecords.ToRecord(found.Record, found.Envelope) };
    }

    public async Task<ResendMessageResponse> ResendAsync(ResendMessageRequest request)
    {
        await RequireChannelAsync(request.Channel);
        RequireId(request.MessageId);
        var (outcome, series) = await ResendOneAsync(request.Channel, request.MessageId);
        return outcome switch
        {
            ResendOutcome.Resent => new ResendMessageResponse { MessageId = request.MessageId, Resend = series },
            ResendOutcome.Queued => throw new ChannelException(ChannelFailure.Precondition,
                $"message '{request.MessageId}' of channel '{request.Channel}' is still waiting or in flight: it will be delivered without a resend"),
            _ => throw NotInHistory(request.Channel, request.MessageId),
        };
    }

    public async Task<ReplayRangeResponse> ReplayRangeAsync(ReplayRangeRequest request, CancellationToken cancellationToken)
    {
        await RequireChannelAsync(request.Channel);
        var after = RequiredTime(request.ReceivedAfter, "received_after");
        var before = RequiredTime(request.ReceivedBefore, "received_before");
        if (before <= after)
        {
            throw ChannelException.Invalid($"received_before = {request.ReceivedBefore}: must be later than received_after ({request.ReceivedAfter})");
        }

        var limit = request.Limit switch
        {
            0 => 1000,
            > 10_000 => throw ChannelException.Invalid($"limit = {request.Limit}: must be between 1 and 10000 (0 means 1000)"),
            _ => (int)request.Limit,
        };
        var endpoint = EndpointFilter.Parse(request.Endpoint, "endpoint");
        var keys = queue.KeysOf(request.Channel);
        var response = new ReplayRangeResponse();
        double min = after * 1000;
        var skip = 0L;
        while (true)
        {
            var chunk = await Db.SortedSetRangeByScoreWithScoresAsync(keys.History, min, (before * 1000) - 1, Exclude.None, Order.Ascending, skip, ReplayChunk);
            foreach (var entry in chunk)
            {
                // Between messages, not inside one: what was queued stays queued.
                cancellationToken.ThrowIfCancellationRequested();
                if (response.Resent == limit)
                {
                    response.Truncated = true;
                    return response;
                }

                var id = (string)entry.Element!;
                if (endpoint is not null)
                {
                    var found = (await ReadAsync(keys, [entry.Element]))[0];
                    if (found?.Envelope is not { } envelope || !endpoint.Matches(Message.Parser.ParseFrom(envelope)))
                    {
                        continue;
                    }
                }

                var (outcome, _) = await ResendOneAsync(request.Channel, id);
                if (outcome == ResendOutcome.Resent)
                {
                    response.Resent++;
                    response.LastReceivedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Floor(entry.Score / 1000)));
                }
                else
                {
                    response.Skipped++;
                }
            }

            if (chunk.Length < ReplayChunk)
            {
                return response;
            }

            // Resent entries keep their score, so the next chunk starts after the last one seen.
            var last = chunk[^1].Score;
            skip = chunk.Count(e => e.Score == last);
            min = last;
        }
    }

    private enum ResendOutcome
    {
        Resent,
        Queued,
        NotFound,
    }

    /// <summary>Reads the record and envelope, writes the copy with <c>resend</c> one higher, and lets resend.lua queue
    /// it if the record did not change meanwhile (another resend, a delivery); a changed record is read again.</summary>
    private async Task<(ResendOutcome Outcome, uint Series)> ResendOneAsync(string channel, string id)
    {
        var keys = queue.KeysOf(channel);
        for (var round = 0; round < 5; round++)
        {
            if ((await ReadAsync(keys, [id]))[0] is not { } found)
            {
                return (ResendOutcome.NotFound, 0);
            }

            var head = HistoryRecords.ReadHead(found.Record);
            if (head.State is 'W' or 'F')
            {
                return (ResendOutcome.Queued, 0);
            }

            if (found.Envelope is null)
            {
                return (ResendOutcome.NotFound, 0);
            }

            var copy = Message.Parser.ParseFrom(found.Envelope);
            copy.Resend = head.Series + 1;
            copy.Attempt = 0;
            var result = (RedisResult[])(await QueueScripts.Resend.EvaluateAsync(Db, keys.ScriptKeys,
                [EventsChannel, channel, id, copy.ToByteArray(), head.Series]))!;
            switch ((string)result[0]!)
            {
                case "ok": return (ResendOutcome.Resent, (uint)(long)result[1]);
                case "queued": return (ResendOutcome.Queued, 0);
                case "not_found": return (ResendOutcome.NotFound, 0);
            }
        }

        return (ResendOutcome.Queued, 0);
    }

    private readonly record struct Found(string Record, byte[]? Envelope);

    /// <summary>Records and envelopes of <paramref name="ids"/> in one transaction (so a message settling meanwhile is
    /// seen either queued or settled, never without its envelope); null for ids not listed.</summary>
    private async Task<Found?[]> ReadAsync(ChannelKeys keys, RedisValue[] ids)
    {
        var found = new Found?[ids.Length];
        if (ids.Length == 0)
        {
            return found;
        }

        var tx = Db.CreateTransaction();
        var records = tx.HashGetAsync(keys.HistoryRecords, ids);
        var live = tx.HashGetAsync(keys.Messages, ids);
        var settled = tx.HashGetAsync(keys.HistoryEnvelopes, ids);
        await tx.ExecuteAsync();
        var (r, l, s) = (await records, await live, await settled);
        for (var i = 0; i < ids.Length; i++)
        {
            if (r[i].HasValue)
            {
                found[i] = new Found((string)r[i]!, l[i].HasValue ? (byte[])l[i]! : s[i].HasValue ? (byte[])s[i]! : null);
            }
        }

        return found;
    }

    private async Task RequireChannelAsync(string channel)
    {
        if (!ChannelNames.IsValid(channel))
        {
            throw ChannelException.Invalid($"channel = '{(channel.Length > 80 ? channel[..80] + "…" : channel)}': must match {ChannelNames.Rule}");
        }

        if (!await Db.KeyExistsAsync(queue.KeysOf(channel).Config))
        {
            throw ChannelException.ChannelNotFound(channel);
        }
    }

    private static void RequireId(string id)
    {
        if (id.Length is 0 or > 200)
        {
            throw ChannelException.Invalid("message_id: required, at most 200 characters");
        }
    }

    private static ChannelException NotInHistory(string channel, string id) =>
        new(ChannelFailure.NotFound, $"message '{id}' is not (or no longer) in the history of channel '{channel}'");

    private static long RequiredTime(Timestamp? time, string field) =>
        time is null ? throw ChannelException.Invalid($"{field}: required") : Millis(time, field);

    internal static long Millis(Timestamp time, string field) =>
        time.Seconds is >= 0 and < 253_402_300_800 && time.Nanos is >= 0 and < 1_000_000_000
            ? time.ToDateTimeOffset().ToUnixTimeMilliseconds()
            : throw ChannelException.Invalid($"{field} = {time}: not a valid time");

    private static string Token(SortedSetEntry entry) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes("h:" + entry.Score.ToString("R", CultureInfo.InvariantCulture) + ":" + entry.Element));

    private static (double? Score, string? Id) ParseToken(string token)
    {
        if (token.Length == 0)
        {
            return (null, null);
        }

        try
        {
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split(':', 3);
            if (parts is ["h", var score, var id] && double.TryParse(score, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                return (value, id);
            }
        }
        catch (FormatException)
        {
        }

        throw ChannelException.Invalid($"page_token = '{token}': not a token from a previous response");
    }

    /// <summary>The filters of a ListMessages request, validated.</summary>
    private sealed class Filter
    {
        public long? After { get; private init; }
        public long? Before { get; private init; }
        private HashSet<char>? _states;
        private EndpointFilter? _endpoint;
        private string _idempotencyKey = "";
        private string _headerName = "";
        private byte[] _headerValue = [];

        public static Filter From(ListMessagesRequest request)
        {
            var filter = new Filter
            {
                After = request.ReceivedAfter is { } a ? Millis(a, "received_after") : null,
                Before = request.ReceivedBefore is { } b ? Millis(b, "received_before") : null,
                _endpoint = EndpointFilter.Parse(request.Endpoint, "endpoint"),
                _idempotencyKey = request.IdempotencyKey,
                _headerName = request.HeaderName,
                _headerValue = Encoding.UTF8.GetBytes(request.HeaderValue),
            };
            if (request.HeaderValue.Length > 0 && request.HeaderName.Length == 0)
            {
                throw ChannelException.Invalid("header_name: required with header_value");
            }

            for (var i = 0; i < request.States.Count; i++)
            {
                var letter = request.States[i] switch
                {
                    MessageState.Waiting => 'W',
                    MessageState.InFlight => 'F',
                    MessageState.Acked => 'A',
                    MessageState.DeadLettered => 'D',
                    MessageState.Expired => 'E',
                    MessageState.Purged => 'P',
                    _ => throw ChannelException.Invalid($"states[{i}] = {request.States[i]}: not a message state"),
                };
                (filter._states ??= []).Add(letter);
            }

            return filter;
        }

        public bool Matches(string record, byte[]? envelope)
        {
            if (_states is not null && !_states.Contains(HistoryRecords.ReadHead(record).State))
            {
                return false;
            }

            if (_endpoint is null && _idempotencyKey.Length == 0 && _headerName.Length == 0)
            {
                return true;
            }

            if (envelope is null)
            {
                return false;
            }

            var message = Message.Parser.ParseFrom(envelope);
            return (_endpoint is null || _endpoint.Matches(message))
                && (_idempotencyKey.Length == 0 || message.IdempotencyKey == _idempotencyKey)
                && (_headerName.Length == 0 || message.Headers.Any(h =>
                    string.Equals(h.Name, _headerName, StringComparison.OrdinalIgnoreCase) && h.Value.Span.SequenceEqual(_headerValue)));
        }
    }

    /// <summary>An endpoint filter: <c>namespace/id</c> matches exactly; a bare <c>id</c> matches that id in any
    /// namespace.</summary>
    private sealed class EndpointFilter(string? @namespace, string id)
    {
        public static EndpointFilter? Parse(string text, string field)
        {
            if (text.Length == 0)
            {
                return null;
            }

            var slash = text.IndexOf('/', StringComparison.Ordinal);
            if (text.Length > 200 || slash == 0 || slash == text.Length - 1 || (slash > 0 && text.IndexOf('/', slash + 1) >= 0))
            {
                throw ChannelException.Invalid($"{field} = '{(text.Length > 80 ? text[..80] + "…" : text)}': must be an endpoint id or namespace/id");
            }

            return slash < 0 ? new EndpointFilter(null, text) : new EndpointFilter(text[..slash], text[(slash + 1)..]);
        }

        public bool Matches(Message message) =>
            message.EndpointId == id && (@namespace is null || message.EndpointNamespace == @namespace);
    }
}

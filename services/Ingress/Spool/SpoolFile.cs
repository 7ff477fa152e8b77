using System.Buffers.Binary;
using System.IO.Hashing;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Ingress.Spool;

/// <summary>What became of a spool append.</summary>
public enum SpoolAppend
{
    /// <summary>On disk (fsynced): the request may be answered 202.</summary>
    Written,

    /// <summary>The spool is at <c>Ingress:SpoolMaxBytes</c>: 503.</summary>
    Full,

    /// <summary>The disk refused the write: 503.</summary>
    Failed,
}

/// <summary>
/// The durable spool (SPEC §4): one append-only file of framed records (<see cref="SpoolFormat"/>) in
/// <c>Ingress:SpoolPath</c>, plus <c>spool.pos</c>, the offset up to which records have been replayed.
/// </summary>
/// <remarks>
/// One loop owns every write (single writer): appends that arrive together are written together and made durable
/// with one fsync (group commit), and only then answered, so a 202 always means "on disk". The replayer reads
/// records up to the durable end on its own handle and reports what it has replayed; when that is everything, the
/// loop truncates the file to zero (the spool only grows during an outage). Recovery at start-up reads the
/// position, counts the records after it, and cuts a torn tail off so new records never follow garbage. A crash
/// between the truncation and the position update leaves a position past the end, which reads as zero.
/// </remarks>
public sealed partial class SpoolFile : IAsyncDisposable
{
    public const string LogFileName = "spool.log";
    public const string PositionFileName = "spool.pos";

    private readonly ILogger<SpoolFile> _logger;
    private readonly string _logPath;
    private readonly string _positionPath;
    private readonly long _maxBytes;
    private FileStream _writer;
    private SafeFileHandle _reader;
    private readonly Channel<Command> _commands = Channel.CreateBounded<Command>(new BoundedChannelOptions(65_536) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Task _loop;
    private long _durableEnd;
    /// <summary>Where the replayed prefix ends; <c>Ingress:SpoolMaxBytes</c> bounds the bytes after it.</summary>
    private long _replayedEnd;
    private long _depth;

    public SpoolFile(IOptions<IngressOptions> options, ILogger<SpoolFile> logger)
    {
        _logger = logger;
        _maxBytes = options.Value.SpoolMaxBytes;
        var directory = Path.GetFullPath(options.Value.SpoolPath);
        // Spooled webhooks carry bodies and headers (signatures, sometimes credentials): owner only (issue 20, 12).
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, OwnerOnlyDirectory);
        }

        _logPath = Path.Combine(directory, LogFileName);
        _positionPath = Path.Combine(directory, PositionFileName);
        File.Delete(CompactPath); // a compaction interrupted by a crash: the log itself is still whole
        _writer = OpenPrivate(_logPath, FileMode.OpenOrCreate, FileShare.ReadWrite);
        RestrictToOwner(_logPath);
        _reader = File.OpenHandle(_logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Recover();
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Records written and not yet replayed (the <c>webhookconnect_ingress_spool_messages</c> gauge).</summary>
    public long Depth => Interlocked.Read(ref _depth);

    /// <summary>Size of the spool file.</summary>
    public long Bytes => Interlocked.Read(ref _durableEnd);

    /// <summary>The offset the replayer starts from (the saved position after recovery).</summary>
    public long ReplayStart { get; private set; }

    private string CompactPath => _logPath + ".compact";

    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>A write stream whose file, when this call creates it, is readable by the owner only (0600).</summary>
    private static FileStream OpenPrivate(string path, FileMode mode, FileShare share)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write, Share = share, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile;
        }

        return new FileStream(path, options);
    }

    /// <summary>A spool file left by an older version (0644) is made owner-only too; a file we do not own stays as it is.</summary>
    private static void RestrictToOwner(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        try
        {
            File.SetUnixFileMode(path, OwnerOnlyFile);
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>A replayed prefix at least this long, and at least as long as what follows it, is compacted away.</summary>
    private long CompactThreshold => Math.Clamp(_maxBytes / 4, 4096, 1 << 20);

    /// <summary>Writes a message and returns once it is on disk (or refused).</summary>
    public async Task<SpoolAppend> AppendAsync(Message message)
    {
        var append = new Append(SpoolFormat.Frame(message.ToByteArray()));
        try
        {
            await _commands.Writer.WriteAsync(append);
        }
        catch (ChannelClosedException)
        {
            return SpoolAppend.Failed;
        }

        return await append.Done.Task;
    }

    /// <summary>Waits until there are durable records after <paramref name="offset"/>.</summary>
    public async Task WaitForRecordsAsync(long offset, CancellationToken cancellationToken)
    {
        while (Interlocked.Read(ref _durableEnd) <= offset)
        {
            await _wake.Reader.ReadAsync(cancellationToken);
        }
    }

    /// <summary>Reads up to <paramref name="maxCount"/> records (and about <paramref name="maxBytes"/>) from
    /// <paramref name="offset"/>; <paramref name="end"/> is where the next read starts. Damaged records are skipped
    /// (and logged); they are not returned.</summary>
    public List<Message> Read(long offset, int maxCount, long maxBytes, out long end)
    {
        var durable = Interlocked.Read(ref _durableEnd);
        var messages = new List<Message>();
        long bytes = 0;
        end = offset;
        while (end < durable && messages.Count < maxCount && bytes < maxBytes)
        {
            var at = end;
            var payload = SpoolFormat.Read(_reader, at, durable, out end, out var damaged);
            if (damaged)
            {
                LogSkipped(_logger, at, end - at);
            }

            if (payload is null)
            {
                continue;
            }

            try
            {
                messages.Add(Message.Parser.ParseFrom(payload));
            }
            catch (InvalidProtocolBufferException)
            {
                // The CRC matched, so this is not damage but a record we cannot read; skip it, loudly.
                LogSkipped(_logger, at, end - at);
            }

            bytes += payload.Length;
        }

        return messages;
    }

    /// <summary>Records up to <paramref name="end"/> (<paramref name="count"/> of them) are in the queue. Returns the
    /// offset to continue from: <paramref name="end"/>, or 0 when the spool was emptied and truncated.</summary>
    public async Task<long> ReplayedAsync(long end, int count)
    {
        var replayed = new Replayed(end, count);
        try
        {
            await _commands.Writer.WriteAsync(replayed);
        }
        catch (ChannelClosedException)
        {
            return end;
        }

        return await replayed.Done.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _commands.Writer.TryComplete();
        await _loop;
        await _writer.DisposeAsync();
        _reader.Dispose();
    }

    private void Recover()
    {
        var length = _writer.Length;
        var start = ReadPosition();
        if (start > length)
        {
            start = 0;
        }

        long count = 0;
        var lastGood = start;
        for (var offset = start; offset < length;)
        {
            var at = offset;
            var payload = SpoolFormat.Read(_reader, at, length, out offset, out var damaged);
            if (damaged)
            {
                LogSkipped(_logger, at, offset - at);
            }

            if (payload is not null)
            {
                count++;
                lastGood = offset;
            }
        }

        if (lastGood < length)
        {
            // A torn tail (the process died mid-write): cut it off so the next record starts clean.
            LogTornTail(_logger, length - lastGood);
            _writer.SetLength(lastGood);
            _writer.Flush(flushToDisk: true);
            length = lastGood;
        }

        _writer.Position = length;
        _durableEnd = length;
        _depth = count;
        ReplayStart = start;
        _replayedEnd = start;
        if (count > 0)
        {
            LogRecovered(_logger, count, length - start);
        }
    }

    private async Task RunAsync()
    {
        var written = new List<Append>();
        var reader = _commands.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var command))
            {
                switch (command)
                {
                    case Append append:
                        if (_durableEnd - _replayedEnd + Pending(written) + append.Frame.Length > _maxBytes)
                        {
                            append.Done.TrySetResult(SpoolAppend.Full);
                        }
                        else
                        {
                            written.Add(append);
                        }

                        break;
                    case Replayed replayed:
                        // Appends before this point are made durable first: the truncation check needs the true end.
                        Commit(written);
                        replayed.Done.TrySetResult(MarkReplayed(replayed));
                        break;
                }
            }

            Commit(written);
        }
    }

    private static long Pending(List<Append> written)
    {
        long total = 0;
        foreach (var append in written)
        {
            total += append.Frame.Length;
        }

        return total;
    }

    private void Commit(List<Append> written)
    {
        if (written.Count == 0)
        {
            return;
        }

        var result = SpoolAppend.Written;
        try
        {
            foreach (var append in written)
            {
                _writer.Write(append.Frame);
            }

            _writer.Flush(flushToDisk: true);
            Interlocked.Exchange(ref _durableEnd, _writer.Position);
            Interlocked.Add(ref _depth, written.Count);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Nothing of this group is acknowledged; cut back to the last durable end so no half record stays.
            LogWriteFailed(_logger, ex);
            result = SpoolAppend.Failed;
            try
            {
                _writer.SetLength(_durableEnd);
                _writer.Position = _durableEnd;
            }
            catch (IOException)
            {
            }
        }

        foreach (var append in written)
        {
            append.Done.TrySetResult(result);
        }

        written.Clear();
        _wake.Writer.TryWrite(true);
    }

    private long MarkReplayed(Replayed replayed)
    {
        Interlocked.Add(ref _depth, -replayed.Count);
        try
        {
            if (replayed.End >= _durableEnd)
            {
                _writer.SetLength(0);
                _writer.Position = 0;
                _writer.Flush(flushToDisk: true);
                Interlocked.Exchange(ref _durableEnd, 0);
                Interlocked.Exchange(ref _replayedEnd, 0);
                Interlocked.Exchange(ref _depth, 0);
                WritePosition(0);
                return 0;
            }

            Interlocked.Exchange(ref _replayedEnd, replayed.End);
            if (replayed.End >= CompactThreshold && replayed.End >= _durableEnd - replayed.End)
            {
                return Compact(replayed.End);
            }

            WritePosition(replayed.End);
        }
        catch (IOException ex)
        {
            // The position is only an optimisation: replaying from an older one re-publishes, which is idempotent.
            LogWriteFailed(_logger, ex);
        }

        return replayed.End;
    }

    /// <summary>
    /// While the queue flaps, new records keep arriving before the replayer reaches the end, so the file is never
    /// emptied and truncated. Then the records after <paramref name="replayedEnd"/> are copied to a new file, which
    /// replaces the log. Order matters for a crash at any point: the copy is on disk first; then the position is set
    /// to 0 (a crash now replays the whole old log again: idempotent, nothing skipped); then the rename. Runs on the
    /// writer loop, while the replayer waits for this call's answer, so nothing reads or writes the log meanwhile.
    /// Returns the offset the replayer continues from.
    /// </summary>
    private long Compact(long replayedEnd)
    {
        var tail = _durableEnd - replayedEnd;
        try
        {
            using (var copy = OpenPrivate(CompactPath, FileMode.Create, FileShare.None))
            {
                var buffer = new byte[64 * 1024];
                for (var at = replayedEnd; at < _durableEnd;)
                {
                    var read = RandomAccess.Read(_reader, buffer.AsSpan(0, (int)Math.Min(buffer.Length, _durableEnd - at)), at);
                    if (read == 0)
                    {
                        throw new IOException($"spool.log ended at {at}, before its durable end {_durableEnd}");
                    }

                    copy.Write(buffer, 0, read);
                    at += read;
                }

                copy.Flush(flushToDisk: true);
            }

            WritePosition(0);
            File.Move(CompactPath, _logPath, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogWriteFailed(_logger, ex);
            File.Delete(CompactPath);
            WritePosition(replayedEnd);
            return replayedEnd;
        }

        _writer.Dispose();
        _reader.Dispose();
        _writer = new FileStream(_logPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0) { Position = tail };
        _reader = File.OpenHandle(_logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Interlocked.Exchange(ref _durableEnd, tail);
        Interlocked.Exchange(ref _replayedEnd, 0);
        LogCompacted(_logger, replayedEnd, tail);
        return 0;
    }

    private long ReadPosition()
    {
        try
        {
            var bytes = File.ReadAllBytes(_positionPath);
            if (bytes.Length == 12 && Crc32.HashToUInt32(bytes.AsSpan(0, 8)) == BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)))
            {
                return BinaryPrimitives.ReadInt64LittleEndian(bytes);
            }
        }
        catch (FileNotFoundException)
        {
        }

        return 0;
    }

    private void WritePosition(long offset)
    {
        var bytes = new byte[12];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, offset);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), Crc32.HashToUInt32(bytes.AsSpan(0, 8)));
        var temporary = _positionPath + ".tmp";
        using (var file = OpenPrivate(temporary, FileMode.Create, FileShare.None))
        {
            file.Write(bytes);
        }

        File.Move(temporary, _positionPath, overwrite: true);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "spool: skipped {Bytes} damaged bytes at offset {Offset}")]
    private static partial void LogSkipped(ILogger logger, long offset, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "spool: cut off a torn tail of {Bytes} bytes (a write interrupted by a crash)")]
    private static partial void LogTornTail(ILogger logger, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "spool: {Count} messages ({Bytes} bytes) left by a previous process will be replayed")]
    private static partial void LogRecovered(ILogger logger, long count, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "spool: compacted: dropped {Replayed} replayed bytes, kept {Kept} bytes not yet replayed")]
    private static partial void LogCompacted(ILogger logger, long replayed, long kept);

    [LoggerMessage(Level = LogLevel.Error, Message = "spool: writing to disk failed")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception);

    private abstract class Command;

    private sealed class Append(byte[] frame) : Command
    {
        public byte[] Frame { get; } = frame;

        public TaskCompletionSource<SpoolAppend> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Replayed(long end, int count) : Command
    {
        public long End { get; } = end;

        public int Count { get; } = count;

        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Spool;

namespace WebhookConnect.Ingress.Tests;

/// <summary>The spool file format and its recovery, on a real file in a temporary directory.</summary>
public sealed class SpoolFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("wc-spool-unit-").FullName;

    private static readonly byte[] Fox = "The quick brown fox jumps over the lazy dog"u8.ToArray();

    private string LogPath => Path.Combine(_directory, SpoolFile.LogFileName);

    [Fact]
    public async Task RecordsSurviveAReopenAndATornLastRecordIsCutOffWithoutLosingTheOthers()
    {
        var messages = Messages(3);
        await using (var spool = Open())
        {
            foreach (var message in messages)
            {
                Assert.Equal(SpoolAppend.Written, await spool.AppendAsync(message));
            }
        }

        var validLength = new FileInfo(LogPath).Length;
        var torn = SpoolFormat.Frame(Messages(1)[0].ToByteArray());
        await AppendBytesAsync(torn.AsSpan(0, torn.Length - 5).ToArray());

        await using (var reopened = Open())
        {
            Assert.Equal(3, reopened.Depth);
            Assert.Equal(validLength, new FileInfo(LogPath).Length);
            Assert.Equal(messages, reopened.Read(reopened.ReplayStart, 100, long.MaxValue, out var end));
            Assert.Equal(validLength, end);

            // New records follow the last good one, not the garbage.
            var next = Messages(1)[0];
            Assert.Equal(SpoolAppend.Written, await reopened.AppendAsync(next));
            Assert.Equal([next], reopened.Read(end, 100, long.MaxValue, out _));
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task SpoolFilesAreReadableByTheirOwnerOnlyEvenWhenAnOlderVersionLeftThemOpen()
    {
        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var fresh = Path.Combine(_directory, "fresh");
        await using (var spool = new SpoolFile(Options.Create(new IngressOptions { SpoolPath = fresh }), NullLogger<SpoolFile>.Instance))
        {
            await spool.AppendAsync(Messages(1)[0]);
            spool.Read(spool.ReplayStart, 100, long.MaxValue, out var end);
            await spool.ReplayedAsync(end, 1);
        }

        // A log left world-readable by a version before this one is closed up when the spool opens it.
        File.WriteAllBytes(LogPath, []);
        File.SetUnixFileMode(LogPath, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        await using (Open())
        {
        }

        Assert.Equal(OwnerOnly | UnixFileMode.UserExecute, File.GetUnixFileMode(fresh));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(fresh, SpoolFile.LogFileName)));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(fresh, SpoolFile.PositionFileName)));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(LogPath));
    }

    [Fact]
    public async Task AHeaderOnlyTailIsCutOffToo()
    {
        await using (var spool = Open())
        {
            await spool.AppendAsync(Messages(1)[0]);
        }

        var validLength = new FileInfo(LogPath).Length;
        await AppendBytesAsync(SpoolFormat.Frame(new byte[100]).AsSpan(0, 7).ToArray());

        await using var reopened = Open();
        Assert.Equal(1, reopened.Depth);
        Assert.Equal(validLength, new FileInfo(LogPath).Length);
    }

    [Fact]
    public async Task ADamagedRecordInTheMiddleIsSkippedAndTheRecordsAroundItAreKept()
    {
        var messages = Messages(3);
        await using (var spool = Open())
        {
            foreach (var message in messages)
            {
                await spool.AppendAsync(message);
            }
        }

        // Flip one byte inside the second record's payload: its CRC no longer matches.
        var firstLength = SpoolFormat.Frame(messages[0].ToByteArray()).Length;
        var bytes = await File.ReadAllBytesAsync(LogPath);
        bytes[firstLength + SpoolFormat.HeaderSize + 3] ^= 0x55;
        await File.WriteAllBytesAsync(LogPath, bytes);

        await using var reopened = Open();
        Assert.Equal(2, reopened.Depth);
        Assert.Equal([messages[0], messages[2]], reopened.Read(reopened.ReplayStart, 100, long.MaxValue, out var end));
        Assert.Equal(bytes.Length, end);
    }

    [Fact]
    public async Task ReplayingEverythingTruncatesTheFileAndAPartialReplayIsRememberedAcrossRestarts()
    {
        var messages = Messages(3);
        long afterFirst;
        await using (var spool = Open())
        {
            foreach (var message in messages)
            {
                await spool.AppendAsync(message);
            }

            Assert.Equal([messages[0]], spool.Read(0, 1, long.MaxValue, out afterFirst));
            Assert.Equal(afterFirst, await spool.ReplayedAsync(afterFirst, 1));
            Assert.Equal(2, spool.Depth);
        }

        await using (var reopened = Open())
        {
            Assert.Equal(afterFirst, reopened.ReplayStart);
            Assert.Equal(2, reopened.Depth);
            var rest = reopened.Read(reopened.ReplayStart, 100, long.MaxValue, out var end);
            Assert.Equal(messages[1..], rest);

            Assert.Equal(0, await reopened.ReplayedAsync(end, rest.Count));
            Assert.Equal(0, reopened.Depth);
            Assert.Equal(0, new FileInfo(LogPath).Length);
        }

        await using var empty = Open();
        Assert.Equal(0, empty.ReplayStart);
        Assert.Equal(0, empty.Depth);
    }

    [Fact]
    public async Task AFullSpoolRefusesAppendsUntilItIsReplayed()
    {
        await using var spool = Open(maxBytes: 4096);
        var message = Messages(1)[0];
        message.Body = ByteString.CopyFrom(new byte[1000]);
        var written = 0;
        while (await spool.AppendAsync(message) == SpoolAppend.Written)
        {
            written++;
        }

        Assert.Equal(4096 / SpoolFormat.Frame(message.ToByteArray()).Length, written);
        Assert.Equal(SpoolAppend.Full, await spool.AppendAsync(message));
        Assert.True(new FileInfo(LogPath).Length <= 4096);

        spool.Read(0, 100, long.MaxValue, out var end);
        await spool.ReplayedAsync(end, written);
        Assert.Equal(SpoolAppend.Written, await spool.AppendAsync(message));
    }

    [Fact]
    public void ARecordIsMagicLengthAndTheIeeeCrc32OfItsPayloadLittleEndianThenThePayload()
    {
        // CRC-32/ISO-HDLC (IEEE 802.3, zlib, PNG): the catalogue check value of "123456789" is 0xCBF43926.
        Assert.Equal(Convert.FromHexString("57435331" + "09000000" + "2639F4CB" + "313233343536373839"), SpoolFormat.Frame("123456789"u8));
        byte[] fox = [.. Convert.FromHexString("57435331" + "2B000000" + "39A34F41"), .. Fox];
        Assert.Equal(fox, SpoolFormat.Frame(Fox));
        Assert.Equal(Convert.FromHexString("57435331" + "00000000" + "00000000"), SpoolFormat.Frame([]));
    }

    [Fact]
    public async Task ASpoolWrittenByHandWithKnownBytesIsRecoveredFromThePositionItsPositionFileNames()
    {
        // Two records and a spool.pos at the second (offset 21: 8 bytes little-endian, then their CRC-32), as an
        // earlier version of ingress wrote them: the format on disk must never change under a spool.
        byte[] log = [.. Convert.FromHexString("57435331" + "09000000" + "2639F4CB"), .. "123456789"u8, .. Convert.FromHexString("57435331" + "2B000000" + "39A34F41"), .. Fox];
        await File.WriteAllBytesAsync(LogPath, log);
        await File.WriteAllBytesAsync(Path.Combine(_directory, SpoolFile.PositionFileName), Convert.FromHexString("1500000000000000" + "26E07951"));

        await using var spool = Open();

        Assert.Equal(21L, spool.ReplayStart);
        Assert.Equal(1L, spool.Depth);
        Assert.Equal(log.Length, new FileInfo(LogPath).Length);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task WhileTheQueueFlapsTheReplayedPrefixIsCompactedAwayAndNeverCountsAgainstTheLimit()
    {
        // The replayer always stays one record behind the writer, so the file is never emptied and truncated.
        const long maxBytes = 64 * 1024;
        var pending = new List<Message>();
        long offset;
        long largest = 0;
        await using (var spool = Open(maxBytes))
        {
            offset = spool.ReplayStart;
            for (var round = 0; round < 100; round++)
            {
                foreach (var message in Messages(3))
                {
                    message.Body = ByteString.CopyFrom(new byte[1000]);
                    Assert.Equal(SpoolAppend.Written, await spool.AppendAsync(message));
                    pending.Add(message);
                }

                Assert.Equal(pending, spool.Read(offset, 100, long.MaxValue, out _));
                var replayed = spool.Read(offset, pending.Count - 1, long.MaxValue, out var end);
                offset = await spool.ReplayedAsync(end, replayed.Count);
                pending.RemoveRange(0, replayed.Count);
                Assert.Equal(pending, spool.Read(offset, 100, long.MaxValue, out _));
                Assert.Equal(pending.Count, spool.Depth);
                largest = Math.Max(largest, new FileInfo(LogPath).Length);
            }
        }

        // 300 KiB went through a 64 KiB spool without a refusal, and the file stayed within the limit.
        Assert.InRange(largest, 1, maxBytes);
        Assert.Single(pending);
        await using var reopened = Open(maxBytes);
        Assert.Equal(pending, reopened.Read(reopened.ReplayStart, 100, long.MaxValue, out _));
        Assert.Equal(1, reopened.Depth);
    }

    private SpoolFile Open(long maxBytes = 1L << 30) =>
        new(Options.Create(new IngressOptions { SpoolPath = _directory, SpoolMaxBytes = maxBytes }), NullLogger<SpoolFile>.Instance);

    private async Task AppendBytesAsync(byte[] bytes)
    {
        await using var file = new FileStream(LogPath, FileMode.Append);
        await file.WriteAsync(bytes);
    }

    private static List<Message> Messages(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new Message
        {
            MessageId = Guid.CreateVersion7().ToString(),
            Channel = "spool-test",
            EndpointId = "spool-test",
            ReceivedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            Body = ByteString.CopyFromUtf8($"{{\"n\":{i}}}"),
            Headers = { new Header { Name = "X-N", Value = ByteString.CopyFromUtf8(i.ToString(System.Globalization.CultureInfo.InvariantCulture)) } },
        })];
}

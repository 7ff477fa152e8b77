using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;

namespace WebhookConnect.Ingress.Spool;

/// <summary>
/// The spool file's record framing: <c>magic "WCS1" | payload length (u32 LE) | CRC-32 of the payload (u32 LE) |
/// payload</c>, where the payload is one protobuf-serialised <c>Message</c>. A record is valid only when all of it
/// is present and its CRC matches, so a write cut short by a crash (or a damaged sector) is recognised. The magic
/// lets a reader find the next record after a damaged one: nothing before or after a bad record is lost. The CRC is
/// CRC-32/ISO-HDLC (IEEE 802.3, zlib's), <c>System.IO.Hashing.Crc32</c>; its bytes are pinned by SpoolFileTests.
/// </summary>
public static class SpoolFormat
{
    public const int HeaderSize = 12;

    /// <summary>The largest payload accepted when reading (a larger length field is damage, not a record).</summary>
    public const int MaxPayload = 64 * 1024 * 1024;

    private const uint Magic = 0x3153_4357; // "WCS1" read as little-endian.

    public static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var frame = new byte[HeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8), Crc32.HashToUInt32(payload));
        payload.CopyTo(frame.AsSpan(HeaderSize));
        return frame;
    }

    /// <summary>
    /// Reads the record at <paramref name="offset"/> (before <paramref name="end"/>). Returns the payload and the
    /// offset after it; or null with <paramref name="next"/> at the next valid record after damage, or at
    /// <paramref name="end"/> when nothing valid follows (a torn tail).
    /// </summary>
    public static byte[]? Read(SafeFileHandle file, long offset, long end, out long next, out bool damaged)
    {
        damaged = false;
        if (TryReadAt(file, offset, end, out var payload, out next))
        {
            return payload;
        }

        damaged = true;
        for (var candidate = FindMagic(file, offset + 1, end); candidate >= 0; candidate = FindMagic(file, candidate + 1, end))
        {
            if (TryReadAt(file, candidate, end, out _, out _))
            {
                next = candidate;
                return null;
            }
        }

        next = end;
        return null;
    }

    private static bool TryReadAt(SafeFileHandle file, long offset, long end, out byte[]? payload, out long next)
    {
        payload = null;
        next = offset;
        if (end - offset < HeaderSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        if (RandomAccess.Read(file, header, offset) != HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(header) != Magic)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (length > MaxPayload || end - offset - HeaderSize < length)
        {
            return false;
        }

        var data = new byte[length];
        var read = 0;
        while (read < data.Length)
        {
            var n = RandomAccess.Read(file, data.AsSpan(read), offset + HeaderSize + read);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        if (Crc32.HashToUInt32(data) != BinaryPrimitives.ReadUInt32LittleEndian(header[8..]))
        {
            return false;
        }

        payload = data;
        next = offset + HeaderSize + length;
        return true;
    }

    private static long FindMagic(SafeFileHandle file, long from, long end)
    {
        var buffer = new byte[64 * 1024];
        Span<byte> magic = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(magic, Magic);
        for (var position = from; position < end - 3;)
        {
            var n = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, end - position)), position);
            if (n < 4)
            {
                return -1;
            }

            var at = buffer.AsSpan(0, n).IndexOf(magic);
            if (at >= 0)
            {
                return position + at;
            }

            // Overlap by three bytes so a magic split across two reads is still found.
            position += n - 3;
        }

        return -1;
    }
}

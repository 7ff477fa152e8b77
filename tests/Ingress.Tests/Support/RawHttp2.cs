using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using WebhookConnect.TestKit;

namespace WebhookConnect.Ingress.Tests.Support;

/// <summary>
/// A hand-written h2c (prior knowledge) request over a socket, for what HttpClient will not send: a header list
/// larger than the server announced (HttpClient refuses it locally), a half-closed connection.
/// </summary>
public static class RawHttp2
{
    public const byte Data = 0;
    public const byte Headers = 1;
    public const byte Settings = 4;
    public const byte RstStream = 3;
    public const byte GoAway = 7;
    public const byte Continuation = 9;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>The client preface and an empty SETTINGS frame.</summary>
    public static byte[] Preface() => [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, .. Http2Frame.Encode(Settings, 0, 0, [])];

    /// <summary>A POST without a body on stream 1: HEADERS (END_STREAM) and as many CONTINUATION frames as the
    /// header block needs at the default frame size, the last with END_HEADERS.</summary>
    public static byte[] Post(string path, IEnumerable<(string Name, string Value)> fields)
    {
        var block = HeaderBlock(path, fields);
        var frames = new MemoryStream();
        const int MaxFrame = 16 * 1024;
        for (var at = 0; at == 0 || at < block.Length; at += MaxFrame)
        {
            var part = block.AsSpan(at, Math.Min(MaxFrame, block.Length - at)).ToArray();
            var last = at + MaxFrame >= block.Length;
            frames.Write(at == 0
                ? Http2Frame.Encode(Headers, (byte)(0x1 | (last ? 0x4 : 0)), 1, part)
                : Http2Frame.Encode(Continuation, (byte)(last ? 0x4 : 0), 1, part));
        }

        return frames.ToArray();
    }

    /// <summary>Sends a POST on a new connection and returns how ingress answered stream 1.</summary>
    public static async Task<Answer> SendAsync(int port, string path, IEnumerable<(string Name, string Value)> fields)
    {
        using var timeout = new CancellationTokenSource(Patience);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Preface().Concat(Post(path, fields)).ToArray(), timeout.Token);

        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            if (FirstAnswer(received.ToArray()) is { } answer)
            {
                return answer;
            }

            int read;
            try
            {
                read = await stream.ReadAsync(buffer, timeout.Token);
            }
            catch (IOException)
            {
                read = 0;
            }

            if (read == 0)
            {
                return new Answer(null, null);
            }

            received.Write(buffer, 0, read);
        }
    }

    /// <summary>HPACK (RFC 7541): :method POST and :scheme http from the static table, :path and :authority as
    /// literals with an indexed name, the fields as literals with a new name, never indexed, no Huffman coding.</summary>
    public static byte[] HeaderBlock(string path, IEnumerable<(string Name, string Value)> fields)
    {
        var block = new MemoryStream();
        block.Write([0x83, 0x86]);
        block.Write(Integer(4, 4, 0x00));
        block.Write(Text(path));
        block.Write(Integer(1, 4, 0x00));
        block.Write(Text("127.0.0.1"));
        foreach (var (name, value) in fields)
        {
            block.WriteByte(0x00);
            block.Write(Text(name));
            block.Write(Text(value));
        }

        return block.ToArray();
    }

    private static byte[] Text(string text) => [.. Integer(text.Length, 7, 0x00), .. Encoding.ASCII.GetBytes(text)];

    private static byte[] Integer(int value, int prefixBits, byte first)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            return [(byte)(first | value)];
        }

        var bytes = new List<byte> { (byte)(first | max) };
        for (value -= max; value >= 128; value >>= 7)
        {
            bytes.Add((byte)((value & 0x7f) | 0x80));
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }

    /// <summary>The status of stream 1's response, or the error code of a GOAWAY, whichever comes first.</summary>
    private static Answer? FirstAnswer(byte[] frames)
    {
        for (var at = 0; at + 9 <= frames.Length;)
        {
            var length = (frames[at] << 16) | (frames[at + 1] << 8) | frames[at + 2];
            if (at + 9 + length > frames.Length)
            {
                return null;
            }

            var payload = frames.AsSpan(at + 9, length);
            var stream = BinaryPrimitives.ReadInt32BigEndian(frames.AsSpan(at + 5)) & int.MaxValue;
            switch (frames[at + 3])
            {
                case GoAway:
                    return new Answer(null, BinaryPrimitives.ReadInt32BigEndian(payload[4..]));
                case Headers when stream == 1:
                    return new Answer(Status(payload), null);
            }

            at += 9 + length;
        }

        return null;
    }

    /// <summary>Kestrel starts a response header block with :status: indexed (200, 204, 206, 304, 400, 404, 500) or
    /// a literal with the indexed name :status (8) and a plain three-digit value.</summary>
    public static int Status(ReadOnlySpan<byte> block)
    {
        int[] indexed = [200, 204, 206, 304, 400, 404, 500];
        if (block[0] is >= 0x88 and <= 0x8e)
        {
            return indexed[block[0] - 0x88];
        }

        var valueAt = block[0] is 0x48 or 0x08 or 0x18 ? 1 : throw new InvalidOperationException($"unexpected response header block {Convert.ToHexString(block[..Math.Min(8, block.Length)])}");
        return block[valueAt] == 3 ? int.Parse(Encoding.ASCII.GetString(block.Slice(valueAt + 1, 3)), System.Globalization.CultureInfo.InvariantCulture) : throw new InvalidOperationException("a Huffman-coded :status");
    }

    /// <summary>Stream 1's status, or the GOAWAY error code (1 PROTOCOL_ERROR, 9 COMPRESSION_ERROR) that ended the
    /// connection first; both null when the connection closed without either.</summary>
    public sealed record Answer(int? Status, int? GoAwayError);
}

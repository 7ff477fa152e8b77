using System.Buffers.Binary;
using System.Net.Sockets;
using WebhookConnect.TestKit;

namespace WebhookConnect.Grpc.Tests.Support;

/// <summary>
/// The client side of an HTTP/2 connection at the frame level (RFC 9113 §3.4, §4.1), to see exactly what our server
/// sends a peer: its SETTINGS, WINDOW_UPDATEs and PINGs.
/// </summary>
public sealed class RawHttp2 : IAsyncDisposable
{
    public const byte Data = 0x0;
    public const byte Settings = 0x4;
    public const byte Ping = 0x6;
    public const byte GoAway = 0x7;
    public const byte WindowUpdate = 0x8;
    public const ushort SettingsMaxConcurrentStreams = 0x3;
    public const ushort SettingsInitialWindowSize = 0x4;

    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
    private readonly TcpClient _socket;
    private readonly NetworkStream _stream;

    private RawHttp2(TcpClient socket)
    {
        _socket = socket;
        _stream = socket.GetStream();
    }

    /// <summary>Connects and sends the client preface with an empty SETTINGS frame.</summary>
    public static async Task<RawHttp2> ConnectAsync(int port)
    {
        var socket = new TcpClient();
        await socket.ConnectAsync("127.0.0.1", port);
        var connection = new RawHttp2(socket);
        await connection._stream.WriteAsync(Preface);
        await connection.WriteFrameAsync(Settings, 0, []);
        return connection;
    }

    /// <summary>Reads the next frame; null when the server closed the connection.</summary>
    public async Task<Frame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var header = new byte[9];
        try
        {
            await _stream.ReadExactlyAsync(header, cancellationToken);
        }
        catch (EndOfStreamException)
        {
            return null;
        }

        var length = (header[0] << 16) | (header[1] << 8) | header[2];
        var payload = new byte[length];
        await _stream.ReadExactlyAsync(payload, cancellationToken);
        return new Frame(header[3], header[4], BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue, payload);
    }

    public async Task WriteFrameAsync(byte type, byte flags, byte[] payload, int streamId = 0) =>
        await _stream.WriteAsync(Http2Frame.Encode(type, flags, streamId, payload));

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    public sealed record Frame(byte Type, byte Flags, int StreamId, byte[] Payload)
    {
        public bool IsAck => (Flags & 0x1) != 0;

        /// <summary>The parameters of a SETTINGS frame, identifier → value.</summary>
        public Dictionary<ushort, uint> SettingsValues()
        {
            var values = new Dictionary<ushort, uint>();
            for (var i = 0; i + 6 <= Payload.Length; i += 6)
            {
                values[BinaryPrimitives.ReadUInt16BigEndian(Payload.AsSpan(i))] = BinaryPrimitives.ReadUInt32BigEndian(Payload.AsSpan(i + 2));
            }

            return values;
        }

        public int WindowIncrement => BinaryPrimitives.ReadInt32BigEndian(Payload) & int.MaxValue;
    }
}

using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace WebhookConnect.Grpc.Tests.Support;

/// <summary>
/// An HTTP/2 peer that completes the connection handshake and then never answers anything, not even PING:
/// what a client sees when the server hangs or a middlebox silently drops the connection. Counts the PING
/// frames it receives.
/// </summary>
public sealed class SilentHttp2Server : IAsyncDisposable
{
    private const int FrameHeaderSize = 9;
    private const byte SettingsFrame = 0x4;
    private const byte PingFrame = 0x6;
    private static readonly int PrefaceLength = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".Length;

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _pings;

    private SilentHttp2Server()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    public string Address => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public int PingsReceived => Volatile.Read(ref _pings);

    public static SilentHttp2Server Start() => new();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _acceptLoop;
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var socket = await _listener.AcceptTcpClientAsync(_stop.Token);
                connections.Add(ServeAsync(socket));
            }
        }
        finally
        {
            await Task.WhenAll(connections.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default)));
        }
    }

    private async Task ServeAsync(TcpClient socket)
    {
        using (socket)
        {
            var stream = socket.GetStream();
            var token = _stop.Token;
            try
            {
                await stream.ReadExactlyAsync(new byte[PrefaceLength], token);

                // Our SETTINGS (empty) is the server preface; the client's SETTINGS gets its ACK.
                await stream.WriteAsync(FrameHeader(0, SettingsFrame, 0), token);
                var header = new byte[FrameHeaderSize];
                var acked = false;
                while (true)
                {
                    await stream.ReadExactlyAsync(header, token);
                    var length = (header[0] << 16) | (header[1] << 8) | header[2];
                    var type = header[3];
                    var flags = header[4];
                    await stream.ReadExactlyAsync(new byte[length], token);
                    if (type == SettingsFrame && (flags & 0x1) == 0 && !acked)
                    {
                        await stream.WriteAsync(FrameHeader(0, SettingsFrame, 0x1), token);
                        acked = true;
                    }
                    else if (type == PingFrame && (flags & 0x1) == 0)
                    {
                        Interlocked.Increment(ref _pings);
                    }
                }
            }
            catch (Exception) when (token.IsCancellationRequested || !socket.Connected)
            {
            }
            catch (IOException)
            {
                // The client gave up on us and closed the connection: that is the point.
            }
        }
    }

    private static byte[] FrameHeader(int length, byte type, byte flags)
    {
        var header = new byte[FrameHeaderSize];
        header[0] = (byte)(length >> 16);
        header[1] = (byte)(length >> 8);
        header[2] = (byte)length;
        header[3] = type;
        header[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(5), 0);
        return header;
    }
}

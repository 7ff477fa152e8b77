using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using WebhookConnect.TestKit;

namespace WebhookConnect.Ingress.Tests.Support;

/// <summary>
/// A sender that declares a body and then sends it slowly or not at all, over HTTP/1.1 or h2c on a raw socket, and
/// reports how ingress answered (or that it closed the connection) and when.
/// </summary>
public sealed class SlowSender : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly bool _http2;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task<Answer> _answer;

    private SlowSender(Socket socket, bool http2)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _http2 = http2;
        _answer = Task.Run(ReadAnswerAsync);
    }

    /// <summary>How ingress answered: an HTTP status (null when it closed the connection without one), with its
    /// <c>Retry-After</c> (HTTP/1.1 only), after how long.</summary>
    public sealed record Answer(int? Status, string? RetryAfter, TimeSpan After);

    public Task<Answer> Answered => _answer;

    /// <summary>Opens a connection and sends a POST's headers declaring <paramref name="contentLength"/> body
    /// bytes (chunked over HTTP/1.1 when null), without any of the body.</summary>
    public static async Task<SlowSender> StartAsync(int port, string path, long? contentLength, bool http2)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(Patience);
        await socket.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        var sender = new SlowSender(socket, http2);
        byte[] head;
        if (http2)
        {
            var fields = new List<(string, string)> { ("content-type", "application/json") };
            if (contentLength is long length)
            {
                fields.Add(("content-length", length.ToString(CultureInfo.InvariantCulture)));
            }

            // HEADERS with END_HEADERS but not END_STREAM: the body is to follow.
            head = [.. RawHttp2.Preface(), .. Http2Frame.Encode(RawHttp2.Headers, 0x4, 1, RawHttp2.HeaderBlock(path, fields))];
        }
        else
        {
            var framing = contentLength is long length ? $"Content-Length: {length}" : "Transfer-Encoding: chunked";
            head = Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n");
        }

        await sender._stream.WriteAsync(head, timeout.Token);
        return sender;
    }

    /// <summary>Sends body bytes (DATA frames over h2c, within the stream's initial window of 768 KiB; a chunk when
    /// chunked); false once ingress has answered or the connection is gone.</summary>
    public async Task<bool> SendAsync(byte[] bytes, bool chunked = false)
    {
        if (_answer.IsCompleted)
        {
            return false;
        }

        // DATA frames of at most 16 KiB, the default SETTINGS_MAX_FRAME_SIZE.
        byte[] wire = _http2 ? [.. bytes.Chunk(16 * 1024).SelectMany(part => Http2Frame.Encode(RawHttp2.Data, 0, 1, part))]
            : chunked ? [.. Encoding.ASCII.GetBytes(bytes.Length.ToString("x", CultureInfo.InvariantCulture) + "\r\n"), .. bytes, .. "\r\n"u8]
            : bytes;
        try
        {
            using var timeout = new CancellationTokenSource(Patience);
            await _stream.WriteAsync(wire, timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Sends <paramref name="bytes"/> every <paramref name="interval"/> until ingress answers or closes, for
    /// at most <paramref name="atMost"/> (then the answer has no status: ingress let the body go on).</summary>
    public async Task<Answer> TrickleAsync(int bytes, TimeSpan interval, TimeSpan atMost)
    {
        var chunk = Enumerable.Repeat((byte)' ', bytes).ToArray();
        while (_clock.Elapsed < atMost && await SendAsync(chunk))
        {
            await Task.WhenAny(_answer, Task.Delay(interval));
        }

        return _answer.IsCompleted || _clock.Elapsed < atMost ? await _answer : new Answer(null, null, _clock.Elapsed);
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Close(0);
        try
        {
            await _answer;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }

        await _stream.DisposeAsync();
        _socket.Dispose();
    }

    private async Task<Answer> ReadAnswerAsync()
    {
        using var timeout = new CancellationTokenSource(Patience);
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            if ((_http2 ? Http2Answer(received.ToArray()) : Http1Answer(received.ToArray())) is { } answer)
            {
                return answer;
            }

            int read;
            try
            {
                read = await _stream.ReadAsync(buffer, timeout.Token);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                read = 0;
            }

            if (read == 0)
            {
                return new Answer(null, null, _clock.Elapsed);
            }

            received.Write(buffer, 0, read);
        }
    }

    private Answer? Http1Answer(byte[] bytes)
    {
        var text = Encoding.ASCII.GetString(bytes);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return null;
        }

        var lines = text[..end].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var retryAfter = lines.Skip(1).Where(l => l.StartsWith("Retry-After:", StringComparison.OrdinalIgnoreCase)).Select(l => l[12..].Trim()).FirstOrDefault();
        return new Answer(status, retryAfter, _clock.Elapsed);
    }

    /// <summary>The status of stream 1's response (a reset of it or a GOAWAY counts as no status).</summary>
    private Answer? Http2Answer(byte[] frames)
    {
        for (var at = 0; at + 9 <= frames.Length;)
        {
            var length = (frames[at] << 16) | (frames[at + 1] << 8) | frames[at + 2];
            if (at + 9 + length > frames.Length)
            {
                return null;
            }

            var stream = BinaryPrimitives.ReadInt32BigEndian(frames.AsSpan(at + 5)) & int.MaxValue;
            switch (frames[at + 3])
            {
                case RawHttp2.Headers when stream == 1:
                    return new Answer(RawHttp2.Status(frames.AsSpan(at + 9, length)), null, _clock.Elapsed);
                case RawHttp2.RstStream when stream == 1:
                case RawHttp2.GoAway:
                    return new Answer(null, null, _clock.Elapsed);
            }

            at += 9 + length;
        }

        return null;
    }
}

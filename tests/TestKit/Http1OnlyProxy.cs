using System.Net;
using System.Net.Sockets;
using System.Text;

namespace WebhookConnect.TestKit;

/// <summary>
/// A loopback proxy that only speaks HTTP/1.1, as many corporate proxies do (SPEC §16): a connection that opens with
/// the HTTP/2 client preface (<c>PRI * HTTP/2.0</c>, what a gRPC client sends over h2c) is answered
/// <c>HTTP/1.1 505 HTTP Version Not Supported</c> and closed; any other connection is forwarded byte for byte to the
/// backend on 127.0.0.1 (a WebSocket upgrade, SSE, a poll), as <see cref="TcpForwarder"/> does. A test can lift the
/// restriction (<see cref="PassHttp2To"/>: the proxy is "gone", HTTP/2 connections go to the gRPC port) and cut the
/// connections in place (<see cref="DropConnections"/>) so clients reconnect.
/// </summary>
public sealed class Http1OnlyProxy : IAsyncDisposable
{
    private static readonly byte[] Http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private static readonly byte[] Refusal = Encoding.ASCII.GetBytes(
        "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain\r\nContent-Length: 32\r\nConnection: close\r\n\r\nthis proxy only speaks HTTP/1.1\n");

    private readonly LoopbackAcceptor _acceptor;
    private readonly int _backend;
    private readonly Lock _gate = new();
    private readonly HashSet<Socket> _clients = [];
    private int _refused;
    private volatile int _http2Backend;
    private int _forwarded;

    private Http1OnlyProxy(int backendPort)
    {
        _backend = backendPort;
        _acceptor = new LoopbackAcceptor(ServeAsync);
    }

    public int Port => _acceptor.Port;

    /// <summary>Connections refused because they opened with the HTTP/2 preface.</summary>
    public int RefusedHttp2 => Volatile.Read(ref _refused);

    /// <summary>Connections forwarded to a backend.</summary>
    public int Forwarded => Volatile.Read(ref _forwarded);

    /// <summary>From now on, connections that open with the HTTP/2 preface are forwarded to <paramref name="port"/>
    /// (on 127.0.0.1) instead of refused.</summary>
    public void PassHttp2To(int port) => _http2Backend = port;

    /// <summary>Closes every connection open through the proxy (the clients see a lost connection).</summary>
    public void DropConnections()
    {
        lock (_gate)
        {
            foreach (var client in _clients)
            {
                try
                {
                    client.Shutdown(SocketShutdown.Both);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                }
            }
        }
    }

    /// <summary>Listens on a free loopback port and forwards HTTP/1.x connections to <paramref name="backendPort"/>.</summary>
    public static Http1OnlyProxy Start(int backendPort) => new(backendPort);

    private async Task ServeAsync(Socket client)
    {
        lock (_gate)
        {
            _clients.Add(client);
        }

        try
        {
            await ServeCoreAsync(client);
        }
        finally
        {
            lock (_gate)
            {
                _clients.Remove(client);
            }
        }
    }

    private async Task ServeCoreAsync(Socket client)
    {
        using (client)
        {
            // Enough of the first bytes to tell the HTTP/2 preface from an HTTP/1.x request line.
            var first = new byte[Http2Preface.Length];
            var read = 0;
            try
            {
                while (read < first.Length)
                {
                    var n = await client.ReceiveAsync(first.AsMemory(read), SocketFlags.None, _acceptor.Stopping);
                    if (n == 0)
                    {
                        return;
                    }

                    read += n;
                    if (!first.AsSpan(0, read).SequenceEqual(Http2Preface.AsSpan(0, read)))
                    {
                        break;
                    }
                }

                var http2 = first.AsSpan(0, read).SequenceEqual(Http2Preface);
                var http2Backend = _http2Backend;
                if (http2 && http2Backend == 0)
                {
                    Interlocked.Increment(ref _refused);
                    await client.SendAsync(Refusal, SocketFlags.None, _acceptor.Stopping);
                    client.Shutdown(SocketShutdown.Send);

                    // Read what the client sent after the preface before closing, as a proxy that read the whole
                    // request does: closing with unread bytes would reset the connection before the answer is read.
                    using var drain = CancellationTokenSource.CreateLinkedTokenSource(_acceptor.Stopping);
                    drain.CancelAfter(TimeSpan.FromSeconds(2));
                    var sink = new byte[4096];
                    while (await client.ReceiveAsync(sink, SocketFlags.None, drain.Token) > 0)
                    {
                    }

                    return;
                }

                using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await backend.ConnectAsync(new IPEndPoint(IPAddress.Loopback, http2 ? http2Backend : _backend), _acceptor.Stopping);
                Interlocked.Increment(ref _forwarded);
                await backend.SendAsync(first.AsMemory(0, read), SocketFlags.None, _acceptor.Stopping);
                await _acceptor.PipeAsync(client, backend);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client or the backend went away, or the proxy stops.
            }
        }
    }

    public ValueTask DisposeAsync() => _acceptor.DisposeAsync();
}

using System.Net;
using System.Net.Sockets;

namespace WebhookConnect.TestKit;

/// <summary>
/// A loopback TCP forwarder in front of several backends, as a Kubernetes Service is in front of replicas: each new
/// connection goes to the first backend (in the given order) that accepts it, and its bytes are copied both ways
/// until either side closes. When a backend dies its connections are closed on the client side as well, so clients
/// see a broken connection and reconnect through the forwarder to the next live backend.
/// </summary>
public sealed class TcpForwarder : IAsyncDisposable
{
    private readonly LoopbackAcceptor _acceptor;
    private readonly IReadOnlyList<int> _backends;
    private readonly Lock _gate = new();
    private readonly int[] _connections;

    private TcpForwarder(IReadOnlyList<int> backends)
    {
        _backends = backends;
        _connections = new int[backends.Count];
        _acceptor = new LoopbackAcceptor(ForwardAsync);
    }

    public int Port => _acceptor.Port;

    /// <summary>How many connections were forwarded to each backend so far, in the order given.</summary>
    public IReadOnlyList<int> Connections
    {
        get
        {
            lock (_gate)
            {
                return [.. _connections];
            }
        }
    }

    /// <summary>Listens on a free loopback port and forwards to <paramref name="backendPorts"/> on 127.0.0.1.</summary>
    public static TcpForwarder Start(params int[] backendPorts) => new(backendPorts);

    private async Task ForwardAsync(Socket client)
    {
        using (client)
        {
            var backend = await ConnectToFirstLiveAsync();
            if (backend is null)
            {
                return;
            }

            using (backend)
            {
                await _acceptor.PipeAsync(client, backend);
            }
        }
    }

    private async Task<Socket?> ConnectToFirstLiveAsync()
    {
        for (var i = 0; i < _backends.Count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _backends[i]), _acceptor.Stopping);
                lock (_gate)
                {
                    _connections[i]++;
                }

                return socket;
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                socket.Dispose();
            }
        }

        return null;
    }

    /// <summary>Copies until the source closes or fails, then shuts the destination's sending side (or both on failure).</summary>
    internal static async Task CopyAsync(Socket from, Socket to, CancellationTokenSource either)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, either.Token);
                if (read == 0)
                {
                    break;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, either.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            // A dead backend (RST) or a finished copy ends the whole forwarded connection: the client must notice.
            try
            {
                to.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }

            await either.CancelAsync();
        }
    }

    public ValueTask DisposeAsync() => _acceptor.DisposeAsync();
}

using System.Net;
using System.Net.Sockets;

namespace WebhookConnect.TestKit;

/// <summary>
/// The listening half of the test kit's loopback proxies (<see cref="TcpForwarder"/>, <see cref="Http1OnlyProxy"/>):
/// a free loopback port, one accept loop handing each connection to <c>serve</c>, and a dispose that stops accepting,
/// cancels <see cref="Stopping"/> and waits for every connection's task to end.
/// </summary>
internal sealed class LoopbackAcceptor : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<Socket, Task> _serve;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Task> _connections = [];
    private readonly Lock _gate = new();

    public LoopbackAcceptor(Func<Socket, Task> serve)
    {
        _serve = serve;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        Stopping = _stop.Token;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>Cancelled when the acceptor is disposed: every connection's work ends with it.</summary>
    public CancellationToken Stopping { get; }

    /// <summary>Copies bytes both ways between <paramref name="client"/> and <paramref name="backend"/> until either
    /// side closes or fails (then both are shut down) or <see cref="Stopping"/> is cancelled.</summary>
    public async Task PipeAsync(Socket client, Socket backend)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(Stopping);
        var up = TcpForwarder.CopyAsync(client, backend, either);
        var down = TcpForwarder.CopyAsync(backend, client, either);
        await Task.WhenAny(up, down);
        await either.CancelAsync();
        await Task.WhenAll(up, down);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_gate)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(_serve(client));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] connections;
        lock (_gate)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections);
        _stop.Dispose();
    }
}

using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace WebhookConnect.TestKit;

/// <summary>Free loopback ports for servers a test starts itself (tests bind 127.0.0.1 only).</summary>
public static class FreePort
{
    private const int Lowest = 10_000;
    private static readonly Lock Gate = new();
    private static readonly HashSet<int> HandedOut = [];
    private static readonly int EphemeralLow = EphemeralRangeStart();

    /// <summary>
    /// A port that was free a moment ago, chosen below the kernel's ephemeral range
    /// (<c>/proc/sys/net/ipv4/ip_local_port_range</c>): every outgoing connection on the machine takes its local port
    /// from that range, so a port picked there can be taken by some client's connection before the server binds it.
    /// Below it only listeners compete; the port is checked free by binding it, and never handed out twice by this
    /// process. Another process may still take it before the caller binds it; prefer letting a server bind port 0
    /// and report its port when it can (as tests/interop/server.mjs does).
    /// </summary>
    public static int Next()
    {
        var below = EphemeralLow - Lowest;
        for (var attempt = 0; below > 1000 && attempt < 200; attempt++)
        {
            var port = Lowest + Random.Shared.Next(below);
            lock (Gate)
            {
                if (HandedOut.Contains(port) || !IsFree(port))
                {
                    continue;
                }

                HandedOut.Add(port);
                return port;
            }
        }

        // No room below the ephemeral range: let the OS pick one.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int EphemeralRangeStart()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(parts[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768; // Linux's default
        }
    }
}

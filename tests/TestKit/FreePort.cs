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
    private static readonly string ReservationDirectory = Path.Combine(Path.GetTempPath(), "webhookconnect-test-ports-" + Environment.UserName);
    private static readonly List<FileStream> Reservations = [];

    /// <summary>
    /// A port that was free a moment ago, chosen below the kernel's ephemeral range
    /// (<c>/proc/sys/net/ipv4/ip_local_port_range</c>): every outgoing connection on the machine takes its local port
    /// from that range, so a port picked there can be taken by some client's connection before the server binds it.
    /// Below it only listeners compete; the port is checked free by binding it, never handed out twice by this
    /// process, and reserved against the other test processes (see <see cref="Reserve"/>). A process outside the
    /// tests may still take it before the caller binds it; prefer letting a server bind port 0 and report its port
    /// when it can (as tests/interop/server.mjs does).
    /// </summary>
    public static int Next()
    {
        var below = EphemeralLow - Lowest;
        for (var attempt = 0; below > 1000 && attempt < 200; attempt++)
        {
            var port = Lowest + Random.Shared.Next(below);
            lock (Gate)
            {
                if (HandedOut.Contains(port) || !IsFree(port) || !Reserve(port))
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

    /// <summary>
    /// Test projects run in parallel as separate processes, and a port picked by one is free until its server binds
    /// it (a process start, seconds on a busy machine) or again while a test restarts a server on it. So a port is
    /// also reserved machine-wide for the life of this process: an exclusive lock on a file named after it (.NET
    /// takes <c>flock</c> for <see cref="FileShare.None"/>), which the kernel drops when the process ends, even on a
    /// crash. Another test process never picks a port reserved here.
    /// </summary>
    internal static bool Reserve(int port)
    {
        try
        {
            System.IO.Directory.CreateDirectory(ReservationDirectory);
            Reservations.Add(new FileStream(
                ReservationFile(port),
                FileMode.OpenOrCreate,
                FileAccess.ReadWrite,
                FileShare.None));
            return true;
        }
        catch (IOException)
        {
            return false; // Reserved by another process.
        }
    }

    /// <summary>The file whose lock reserves <paramref name="port"/> (see <see cref="Reserve"/>).</summary>
    public static string ReservationFile(int port) => Path.Combine(ReservationDirectory, port.ToString(CultureInfo.InvariantCulture));

    /// <summary>The first port of the kernel's ephemeral range; ports handed out are below it.</summary>
    public static int EphemeralRangeLow => EphemeralLow;

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

using System.Net;
using System.Net.Sockets;

namespace WebhookConnect.TestKit;

/// <summary>Free loopback ports for servers a test starts itself (tests bind 127.0.0.1 only).</summary>
public static class FreePort
{
    /// <summary>
    /// A port that was free a moment ago: the OS picks it for a listener on port 0, which is then released.
    /// Another process may take it before the caller binds it; prefer letting a server bind port 0 and
    /// report its port when it can (as tests/interop/server.mjs does).
    /// </summary>
    public static int Next()
    {
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
}

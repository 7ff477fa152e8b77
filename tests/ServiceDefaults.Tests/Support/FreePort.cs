using System.Net;
using System.Net.Sockets;

namespace WebhookConnect.ServiceDefaults.Tests.Support;

internal static class FreePort
{
    /// <summary>A port the OS just handed out on 127.0.0.1; free unless someone grabs it in the next instant.</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

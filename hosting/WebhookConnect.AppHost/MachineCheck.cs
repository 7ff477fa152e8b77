using System.Net;
using System.Net.Sockets;

namespace WebhookConnect.AppHost;

/// <summary>What the stack needs before Aspire starts anything, each failure named with its remedy.</summary>
public static class MachineCheck
{
    public static void Check(StackSettings settings)
    {
        if (FindOnPath("redis-server") is null)
        {
            throw new StackSettingsException("redis-server is not installed. Install it with: sudo apt-get install -y redis-server (scripts/run.sh does this when it may)");
        }

        foreach (var (variable, port) in settings.Ports)
        {
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
            }
            catch (SocketException)
            {
                throw new StackSettingsException($"port {port} ({variable}) is in use; stop what listens there or set {variable} to another port");
            }
        }
    }

    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
}

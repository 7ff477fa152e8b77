using System.Globalization;

namespace WebhookConnect.TestKit;

/// <summary>The grpc-js processes of tests/interop, started the one way the tests and the benchmark both need.</summary>
public static class NodeInterop
{
    private const string ListeningPrefix = "LISTENING ";

    /// <summary>Starts tests/interop/server.mjs on an ephemeral 127.0.0.1 port and waits for it to listen.</summary>
    public static async Task<(ChildProcess Process, int Port)> StartServerAsync(TimeSpan timeout)
    {
        Prerequisites.RequireNodeInteropPackages();
        var process = ChildProcess.Start("grpc-js server", "node", [Path.Combine(RepoPaths.Interop, "server.mjs"), "--port", "0"], workingDirectory: RepoPaths.Interop);
        try
        {
            var line = await process.WaitForLineAsync(l => l.StartsWith(ListeningPrefix, StringComparison.Ordinal), timeout);
            return (process, int.Parse(line[ListeningPrefix.Length..].Trim(), CultureInfo.InvariantCulture));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }
}

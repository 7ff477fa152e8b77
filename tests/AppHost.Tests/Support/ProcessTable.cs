using System.Globalization;
using WebhookConnect.AppHost;
using WebhookConnect.TestKit;

namespace WebhookConnect.AppHost.Tests.Support;

/// <summary>
/// The processes of a running stack, read from /proc: the AppHost's descendants and those of the Aspire orchestrator
/// (DCP), which detaches from the AppHost (its parent is init) and names it with <c>--monitor &lt;pid&gt;</c>.
/// </summary>
public static class ProcessTable
{
    public static List<ProcessEntry> StackProcesses(int appHost)
    {
        var all = ProcessEntry.All();
        var monitor = $"--monitor {appHost.ToString(CultureInfo.InvariantCulture)}";
        var roots = all.Where(p => p.Id == appHost || p.CommandLine.Contains(monitor, StringComparison.Ordinal)).Select(p => p.Id).ToHashSet();
        var found = new Dictionary<int, ProcessEntry>();
        foreach (var root in all.Where(p => roots.Contains(p.Id) && p.Id != appHost))
        {
            found[root.Id] = root;
        }

        bool grew;
        do
        {
            grew = false;
            foreach (var process in all)
            {
                if (!found.ContainsKey(process.Id) && (roots.Contains(process.ParentId) || found.ContainsKey(process.ParentId)))
                {
                    found[process.Id] = process;
                    grew = true;
                }
            }
        }
        while (grew);

        return [.. found.Values];
    }

    /// <summary>
    /// The AppHost returns once every resource has exited; the orchestrator's own two processes (its API server and
    /// controllers, which watch the AppHost's pid) follow within moments, so they get a short deadline.
    /// </summary>
    public static async Task AssertNoneLeftAsync(IReadOnlyList<ProcessEntry> processes)
    {
        var resources = processes.Where(p => !p.CommandLine.Contains("/dcp ", StringComparison.Ordinal)).ToList();
        var left = resources.Where(p => p.IsAlive).ToList();
        Assert.True(left.Count == 0, $"still running when the AppHost had exited: {string.Join(", ", left)}");
        try
        {
            await Eventually.UntilAsync(() => !processes.Any(p => p.IsAlive), TimeSpan.FromSeconds(30), "the orchestrator's processes to exit");
        }
        catch (TimeoutException)
        {
            Assert.Fail($"still running 30 s after the AppHost exited: {string.Join(", ", processes.Where(p => p.IsAlive))}");
        }
    }
}

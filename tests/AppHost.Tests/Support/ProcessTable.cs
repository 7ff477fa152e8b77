using System.Globalization;
using WebhookConnect.TestKit;

namespace WebhookConnect.AppHost.Tests.Support;

/// <summary>
/// The processes of a running stack, read from /proc: the AppHost's descendants and those of the Aspire orchestrator
/// (DCP), which detaches from the AppHost (its parent is init) and names it with <c>--monitor &lt;pid&gt;</c>.
/// </summary>
public static class ProcessTable
{
    public static List<ProcessIdentity> StackProcesses(int appHost)
    {
        var all = All();
        var monitor = $"--monitor {appHost.ToString(CultureInfo.InvariantCulture)}";
        var roots = all.Where(p => p.Id == appHost || p.CommandLine.Contains(monitor, StringComparison.Ordinal)).Select(p => p.Id).ToHashSet();
        var found = new Dictionary<int, ProcessIdentity>();
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
    public static async Task AssertNoneLeftAsync(IReadOnlyList<ProcessIdentity> processes)
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

    public static List<ProcessIdentity> All()
    {
        var processes = new List<ProcessIdentity>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), CultureInfo.InvariantCulture, out var pid) && ProcessIdentity.Read(pid) is { } process)
            {
                processes.Add(process);
            }
        }

        return processes;
    }
}

/// <summary>A process as /proc names it; its start time tells it apart from a later process given the same pid.</summary>
public sealed record ProcessIdentity(int Id, int ParentId, string Command, long StartTime, string CommandLine)
{
    public bool IsAlive => Read(Id) is { } now && now.StartTime == StartTime;

    public static ProcessIdentity? Read(int pid)
    {
        try
        {
            // "pid (comm) state ppid … starttime (22nd field)"; comm may contain spaces and parentheses.
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            if (fields[0] == "Z")
            {
                return null;
            }

            var commandLine = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Replace('\0', ' ');
            return new ProcessIdentity(pid, int.Parse(fields[1], CultureInfo.InvariantCulture), stat[(stat.IndexOf('(') + 1)..close],
                long.Parse(fields[19], CultureInfo.InvariantCulture), commandLine);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    public override string ToString() => $"{Command} (pid {Id})";
}

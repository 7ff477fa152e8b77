using System.Globalization;

namespace WebhookConnect.AppHost;

/// <summary>
/// Aspire's orchestrator (DCP) runs detached from the AppHost (its parent is init) and stops the resources after the
/// AppHost has asked it to, while the AppHost itself is already returning; a service whose <c>dotnet run</c> wrapper
/// is stopped first is re-parented to init and finishes draining on its own. So that Ctrl-C gives the terminal back
/// only when nothing is left, the AppHost keeps a list of the processes below DCP while the stack runs and, once
/// it has been asked to stop, waits for each of them to exit. DCP finds its AppHost by <c>--monitor &lt;pid&gt;</c> on its
/// command line. Read from /proc, so Linux only, like the rest of our tooling.
/// </summary>
public sealed class Leftovers
{
    private readonly Lock _gate = new();
    private List<ProcessEntry> _known = [];

    /// <summary>Remembers the resources' processes now running (called while the stack runs).</summary>
    public void Refresh()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var processes = Snapshot();
        var monitor = $"--monitor {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        var dcp = processes.Values.Where(p => p.CommandLine.Contains("start-apiserver", StringComparison.Ordinal) && p.CommandLine.Contains(monitor, StringComparison.Ordinal)).Select(p => p.Id).ToHashSet();
        // DCP's own controller and API server exit after the AppHost does (they watch its pid); everything else below
        // DCP is a resource, a wrapper of one, or a monitor of one.
        var resources = Descendants(processes, dcp).Where(p => !p.CommandLine.Contains("run-controllers", StringComparison.Ordinal)).ToList();
        lock (_gate)
        {
            _known = [.. _known.Where(IsAlive).Concat(resources).DistinctBy(p => (p.Id, p.StartTime))];
        }
    }

    /// <summary>Waits until every remembered process has exited; returns how many are still running at the deadline.</summary>
    public async Task<int> WaitAsync(TimeSpan patience, Action<string> say)
    {
        List<ProcessEntry> known;
        lock (_gate)
        {
            known = _known;
        }

        var deadline = DateTime.UtcNow + patience;
        var announced = false;
        while (true)
        {
            var left = known.Where(IsAlive).ToList();
            if (left.Count == 0)
            {
                return 0;
            }

            if (DateTime.UtcNow > deadline)
            {
                say($"still running after {patience.TotalSeconds:0} s: {string.Join(", ", left.Select(p => $"{p.Name} (pid {p.Id})"))}");
                return left.Count;
            }

            if (!announced)
            {
                say($"waiting for {left.Count} processes to stop");
                announced = true;
            }

            await Task.Delay(200);
        }
    }

    private static bool IsAlive(ProcessEntry process) => Read(process.Id) is { } now && now.StartTime == process.StartTime;

    private static IEnumerable<ProcessEntry> Descendants(Dictionary<int, ProcessEntry> processes, HashSet<int> roots)
    {
        var found = new HashSet<int>(roots);
        bool grew;
        do
        {
            grew = false;
            foreach (var process in processes.Values)
            {
                if (!found.Contains(process.Id) && found.Contains(process.ParentId))
                {
                    found.Add(process.Id);
                    grew = true;
                }
            }
        }
        while (grew);

        return found.Except(roots).Select(id => processes[id]);
    }

    private static Dictionary<int, ProcessEntry> Snapshot()
    {
        var processes = new Dictionary<int, ProcessEntry>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Read(pid) is { } process)
            {
                processes[pid] = process;
            }
        }

        return processes;
    }

    /// <summary>A live (not zombie) process as /proc names it; its start time tells it apart from a later process given the same pid.</summary>
    private static ProcessEntry? Read(int pid)
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
            return new ProcessEntry(pid, int.Parse(fields[1], CultureInfo.InvariantCulture), stat[(stat.IndexOf('(') + 1)..close],
                long.Parse(fields[19], CultureInfo.InvariantCulture), commandLine);
        }
        catch (IOException)
        {
            return null; // exited while we looked
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private sealed record ProcessEntry(int Id, int ParentId, string Name, long StartTime, string CommandLine);
}

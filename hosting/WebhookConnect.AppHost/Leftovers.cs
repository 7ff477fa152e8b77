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

        var processes = ProcessEntry.All().ToDictionary(p => p.Id);
        var monitor = $"--monitor {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        var dcp = processes.Values.Where(p => p.CommandLine.Contains("start-apiserver", StringComparison.Ordinal) && p.CommandLine.Contains(monitor, StringComparison.Ordinal)).Select(p => p.Id).ToHashSet();
        // DCP's own controller and API server exit after the AppHost does (they watch its pid); everything else below
        // DCP is a resource, a wrapper of one, or a monitor of one.
        var resources = Descendants(processes, dcp).Where(p => !p.CommandLine.Contains("run-controllers", StringComparison.Ordinal)).ToList();
        lock (_gate)
        {
            _known = [.. _known.Where(p => p.IsAlive).Concat(resources).DistinctBy(p => (p.Id, p.StartTime))];
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
            var left = known.Where(p => p.IsAlive).ToList();
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


}

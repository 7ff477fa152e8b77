using System.Globalization;
using System.Text;
using StackExchange.Redis;

namespace WebhookConnect.Benchmarks;

/// <summary>
/// What one measured phase of a benchmark cost (issue 19): CPU time of every process of the stack (user + system,
/// from <c>/proc/&lt;pid&gt;/stat</c>, so it counts only that process whatever else runs on the machine) and the Redis
/// commands it ran (the deltas of <c>INFO commandstats</c>; commands a Lua script runs through <c>redis.call</c> are
/// counted there too, under their own names), and, for a service whose <c>/metrics</c> it is given, the bytes it
/// allocated on the managed heap (the runtime's <c>dotnet_gc_heap_total_allocated_bytes_total</c>, System.Runtime
/// meter). Compiled into each benchmark that prints costs (a linked file).
/// One meter can measure several phases one after the other (StartAsync … StopAsync, again).
/// </summary>
internal sealed class CostMeter
{
    private readonly IServer? _redis;
    private readonly List<(string Name, int Pid)> _processes;
    private readonly string _self;
    private readonly Dictionary<string, TimeSpan> _cpuBefore = new(StringComparer.Ordinal);
    private readonly List<(string Name, Uri Metrics)> _allocations = [];
    private readonly Dictionary<string, long> _allocatedBefore = new(StringComparer.Ordinal);
    private static readonly HttpClient Scraper = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly List<(string Name, int Pid)> _startedDuringPhase = [];
    private Dictionary<string, long> _commandsBefore = new(StringComparer.Ordinal);
    private TimeSpan _childrenBefore;

    /// <param name="redis">The benchmark's Redis, for its command counts; null when Redis is not running during the
    /// phase (the commands are then not counted).</param>
    /// <param name="processes">The processes to meter by name; "this process" (the benchmark itself, named by
    /// <paramref name="self"/>) and "reaped children" (h2load runs that exited during the phase, when there were any)
    /// are added.</param>
    /// <param name="self">What this process does during the phase, as printed.</param>
    public CostMeter(IServer? redis, IReadOnlyList<(string Name, int Pid)> processes, string self = "this process (load + target)")
    {
        _redis = redis;
        _processes = [.. processes];
        _self = self;
    }

    /// <summary>Also reports the managed bytes a service allocated per webhook, read from its <c>/metrics</c>.</summary>
    public CostMeter WithAllocations(string name, Uri metrics)
    {
        _allocations.Add((name, metrics));
        return this;
    }

    /// <summary>Takes the starting point of a phase.</summary>
    public async Task StartAsync()
    {
        _startedDuringPhase.Clear();
        foreach (var (name, metrics) in _allocations)
        {
            _allocatedBefore[name] = await AllocatedBytesAsync(metrics);
        }

        foreach (var (name, pid) in _processes)
        {
            _cpuBefore[name] = CpuTime(pid);
        }

        _cpuBefore[_self] = CpuTime(Environment.ProcessId);
        _childrenBefore = ReapedChildrenCpuTime();
        _commandsBefore = _redis is null ? [] : await CommandCallsAsync();
    }

    /// <summary>Meters a process that started during the phase (a connector started to drain a backlog) from
    /// <paramref name="cpuAtStart"/> of its CPU time: zero counts all of it, its start-up included. For this phase
    /// only; call it before <see cref="StopAsync"/>, while the process still runs.</summary>
    public void StartedDuringPhase(string name, int pid, TimeSpan cpuAtStart = default)
    {
        _startedDuringPhase.Add((name, pid));
        _cpuBefore[name] = cpuAtStart;
    }

    /// <summary>Ends a phase of <paramref name="webhooks"/> webhooks: CPU µs per webhook for each process and in all,
    /// and Redis commands per webhook, each command and in all.</summary>
    public async Task<Cost> StopAsync(long webhooks)
    {
        var perProcess = new List<(string Name, double MicrosPerWebhook)>();
        foreach (var (name, pid) in _processes.Concat(_startedDuringPhase))
        {
            perProcess.Add((name, Per(CpuTime(pid) - _cpuBefore[name])));
        }

        perProcess.Add((_self, Per(CpuTime(Environment.ProcessId) - _cpuBefore[_self])));
        var reaped = ReapedChildrenCpuTime() - _childrenBefore;
        if (reaped > TimeSpan.Zero)
        {
            perProcess.Add(("reaped children (h2load)", Per(reaped)));
        }

        var allocated = new List<(string Name, double BytesPerWebhook)>();
        foreach (var (name, metrics) in _allocations)
        {
            allocated.Add((name, (await AllocatedBytesAsync(metrics) - _allocatedBefore[name]) / (double)webhooks));
        }

        if (_redis is null)
        {
            return new Cost(perProcess, null, allocated);
        }

        var after = await CommandCallsAsync();
        var commands = after
            .Select(pair => (Command: pair.Key, PerWebhook: (pair.Value - _commandsBefore.GetValueOrDefault(pair.Key)) / (double)webhooks))
            .Where(c => c.PerWebhook > 0)
            .OrderByDescending(c => c.PerWebhook)
            .ToList();
        return new Cost(perProcess, commands, allocated);

        double Per(TimeSpan cpu) => cpu.TotalMilliseconds * 1000 / webhooks;
    }

    /// <summary>utime + stime of a live process (clock ticks of 10 ms; zero once it is gone).</summary>
    public static TimeSpan CpuTime(int pid)
    {
        var fields = StatFields(pid);
        return fields is null ? TimeSpan.Zero : Ticks(fields[11]) + Ticks(fields[12]);
    }

    /// <summary>cutime + cstime of this process: the CPU of every child it has waited for (h2load runs).</summary>
    private static TimeSpan ReapedChildrenCpuTime()
    {
        var fields = StatFields(Environment.ProcessId)!;
        return Ticks(fields[13]) + Ticks(fields[14]);
    }

    private static TimeSpan Ticks(string value) => TimeSpan.FromMilliseconds(long.Parse(value, CultureInfo.InvariantCulture) * 10);

    // The fields after "(comm)" of /proc/<pid>/stat, so index 11 is utime (field 14 of proc(5)).
    private static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
    }

    // The runtime's counter of managed bytes allocated since the process started (collected afresh on every scrape).
    private static async Task<long> AllocatedBytesAsync(Uri metrics)
    {
        const string Name = "dotnet_gc_heap_total_allocated_bytes_total";
        var text = await Scraper.GetStringAsync(metrics);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(Name, StringComparison.Ordinal) && line.Length > Name.Length && line[Name.Length] is ' ' or '{')
            {
                return (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"{metrics} has no {Name} (the System.Runtime meter is off?)");
    }

    private async Task<Dictionary<string, long>> CommandCallsAsync()
    {
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var group in await _redis!.InfoAsync("commandstats"))
        {
            foreach (var (key, value) in group)
            {
                // cmdstat_evalsha:calls=123,usec=...
                var field = value.Split(',')[0];
                if (key.StartsWith("cmdstat_", StringComparison.Ordinal) && field.StartsWith("calls=", StringComparison.Ordinal))
                {
                    calls[key["cmdstat_".Length..]] = long.Parse(field["calls=".Length..], CultureInfo.InvariantCulture);
                }
            }
        }

        return calls;
    }
}

/// <summary>One phase's cost per webhook (or per message, per request: whatever the phase counted).
/// <see cref="Commands"/> is null when Redis was not metered (not running during the phase).</summary>
internal sealed record Cost(
    IReadOnlyList<(string Name, double MicrosPerWebhook)> Cpu,
    IReadOnlyList<(string Command, double PerWebhook)>? Commands,
    IReadOnlyList<(string Name, double BytesPerWebhook)> Allocated)
{
    /// <summary>CPU µs per webhook summed over every metered process, load generator and target included.</summary>
    public double TotalMicros => Cpu.Sum(c => c.MicrosPerWebhook);

    /// <summary>CPU µs per webhook of the named processes only (SPEC §13's "summed over all our processes").</summary>
    public double MicrosOf(IEnumerable<string> names) => Cpu.Where(c => names.Contains(c.Name)).Sum(c => c.MicrosPerWebhook);

    public double CommandsPerWebhook => Commands?.Sum(c => c.PerWebhook) ?? 0;

    public string DescribeCpu() =>
        string.Join(", ", Cpu.Select(c => $"{c.Name} {c.MicrosPerWebhook.ToString("0.0", CultureInfo.InvariantCulture)}"))
        + $"; all {TotalMicros.ToString("0.0", CultureInfo.InvariantCulture)} µs";

    public string DescribeAllocations() =>
        string.Join(", ", Allocated.Select(a => $"{a.Name} {(a.BytesPerWebhook / 1024).ToString("0.0", CultureInfo.InvariantCulture)} KiB"));

    public string DescribeCommands()
    {
        if (Commands is null)
        {
            return "not counted (Redis was not running)";
        }

        var text = new StringBuilder(CommandsPerWebhook.ToString("0.00", CultureInfo.InvariantCulture)).Append(" (");
        text.AppendJoin(", ", Commands.Take(12).Select(c => $"{c.Command} {c.PerWebhook.ToString("0.00", CultureInfo.InvariantCulture)}"));
        // Script calls (each runs the commands above): how well publishes, deliveries and acks are batched.
        var scripts = Commands.Where(c => c.Command is "evalsha" or "eval").Sum(c => c.PerWebhook);
        return text.Append($"; script calls {scripts.ToString("0.000", CultureInfo.InvariantCulture)}, one per {(scripts > 0 ? 1 / scripts : 0).ToString("0.0", CultureInfo.InvariantCulture)} webhooks)").ToString();
    }
}

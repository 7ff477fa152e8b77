using System.Globalization;

namespace WebhookConnect.TestKit;

/// <summary>What a process really holds in memory, as Linux counts it (<c>/proc/&lt;pid&gt;/status</c>).</summary>
public static class ProcessMemory
{
    /// <summary>The resident set size (<c>VmRSS</c>) in bytes: pages in RAM, what a container's memory limit meets.</summary>
    public static long ResidentBytes(int pid) => Field(pid, "VmRSS:");

    /// <summary>The highest resident set size the process has had (<c>VmHWM</c>) in bytes.</summary>
    public static long PeakResidentBytes(int pid) => Field(pid, "VmHWM:");

    private static long Field(int pid, string name)
    {
        foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
        {
            if (line.StartsWith(name, StringComparison.Ordinal))
            {
                // "VmRSS:	  104236 kB"
                var kib = line[name.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                return long.Parse(kib, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no {name} line");
    }
}

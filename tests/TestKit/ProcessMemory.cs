using System.Globalization;

namespace WebhookConnect.TestKit;

/// <summary>
/// What a child process really holds in memory, as Linux counts it (<c>/proc/&lt;pid&gt;/status</c>), for tests that
/// show a process's memory stays bounded under an attack.
/// </summary>
public static class ProcessMemory
{
    /// <summary>The resident set size (<c>VmRSS</c>) in bytes: pages in RAM, what a container's memory limit meets.</summary>
    public static long ResidentBytes(int pid) => Field(pid, "VmRSS:");

    /// <summary>
    /// VmRSS once it stopped growing: sampled every half second until four samples in a row grew by less than 1 MiB
    /// in all (the garbage collector and the allocator settle after a burst), at most <paramref name="timeout"/>,
    /// after which the last sample is returned (a process that keeps growing then fails the caller's bound).
    /// </summary>
    public static async Task<long> SettledResidentBytesAsync(int pid, TimeSpan? timeout = null)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var samples = new List<long> { ResidentBytes(pid) };
        while (DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            samples.Add(ResidentBytes(pid));
            if (samples.Count >= 4 && samples[^1] - samples[^4] < 1024 * 1024)
            {
                break;
            }
        }

        return samples[^1];
    }

    /// <summary>Bytes as mebibytes with one decimal, for test output.</summary>
    public static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

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

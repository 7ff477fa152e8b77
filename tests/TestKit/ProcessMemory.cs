using System.Globalization;

namespace WebhookConnect.TestKit;

/// <summary>The resident memory of a child process (Linux <c>/proc/&lt;pid&gt;/status</c>), for tests that show a
/// process's memory stays bounded under an attack.</summary>
public static class ProcessMemory
{
    /// <summary>VmRSS in bytes.</summary>
    public static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                // "VmRSS:    123456 kB"
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"no VmRSS line in /proc/{pid}/status");
    }

    /// <summary>
    /// VmRSS once it stopped growing: sampled every half second until four samples in a row grew by less than 1 MiB
    /// in all (the garbage collector and the allocator settle after a burst), at most <paramref name="timeout"/>,
    /// after which the last sample is returned (a process that keeps growing then fails the caller's bound).
    /// </summary>
    public static async Task<long> SettledRssAsync(int pid, TimeSpan? timeout = null)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var samples = new List<long> { Rss(pid) };
        while (DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            samples.Add(Rss(pid));
            if (samples.Count >= 4 && samples[^1] - samples[^4] < 1024 * 1024)
            {
                break;
            }
        }

        return samples[^1];
    }

    public static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";
}

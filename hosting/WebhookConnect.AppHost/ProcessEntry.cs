using System.Globalization;

namespace WebhookConnect.AppHost;

/// <summary>
/// A process as Linux's /proc names it: the AppHost waits for the resources' processes by these, and the tests check
/// with them that nothing is left. The start time tells a process apart from a later one given the same pid.
/// </summary>
public sealed record ProcessEntry(int Id, int ParentId, string Name, long StartTime, string CommandLine)
{
    public bool IsAlive => Read(Id) is { } now && now.StartTime == StartTime;

    /// <summary>Every live process.</summary>
    public static List<ProcessEntry> All()
    {
        var processes = new List<ProcessEntry>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Read(pid) is { } process)
            {
                processes.Add(process);
            }
        }

        return processes;
    }

    /// <summary>A live (not zombie) process as /proc names it; its start time tells it apart from a later process given the same pid.</summary>
    public static ProcessEntry? Read(int pid)
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

    public override string ToString() => $"{Name} (pid {Id.ToString(CultureInfo.InvariantCulture)})";
}

using System.Globalization;

namespace WebhookConnect.Benchmarks.Queue;

/// <summary>The figures of one run, printed as one table at the end (progress lines go out as the run goes).</summary>
public sealed class Report
{
    private readonly List<string[]> _rows = [];
    private readonly List<string> _notes = [];
    private readonly List<string> _verdicts = [];

    public List<string> Failures { get; } = [];

    /// <param name="result">The queue-manager's figure.</param>
    /// <param name="baseline">The baseline's figure, same unit, or null.</param>
    public void Row(string measurement, string result, string baselineName = "", string baseline = "", string ratio = "") =>
        _rows.Add([measurement, result, baselineName, baseline, ratio]);

    public void Rate(string measurement, double rate, Baseline? baseline = null) =>
        Row(
            measurement,
            PerSecond(rate),
            baseline?.Detail ?? "",
            baseline is { } b ? PerSecond(b.Rate) : "",
            baseline is { Rate: > 0 } c ? (rate / c.Rate).ToString("P0", CultureInfo.InvariantCulture) : "");

    public void Note(string note) => _notes.Add(note);

    /// <summary>A machine-readable verdict, printed as one line <c>verdict &lt;name&gt; pass|FAIL key=value …</c>
    /// after the table, for scripts to grep.</summary>
    public void Verdict(string name, bool pass, string details) => _verdicts.Add($"verdict {name} {(pass ? "pass" : "FAIL")} {details}");

    /// <summary>Records a failed check; the run still prints everything and then exits with 1.</summary>
    public void Check(bool condition, string what)
    {
        if (!condition)
        {
            Failures.Add(what);
        }
    }

    public static string PerSecond(double rate) => rate.ToString("N0", CultureInfo.InvariantCulture) + " /s";

    public static string MiB(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("N1", CultureInfo.InvariantCulture) + " MiB";

    public static string SignedMiB(long bytes) => (bytes >= 0 ? "+" : "") + MiB(bytes);

    public static string Ms(TimeSpan time) => time.TotalMilliseconds.ToString("N1", CultureInfo.InvariantCulture) + " ms";

    public void Print(TextWriter output)
    {
        string[] header = ["measurement", "queue-manager", "baseline (same redis-server, same run)", "baseline", "ratio"];
        var widths = header.Select((h, i) => _rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        output.WriteLine();
        Line(header);
        output.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in _rows)
        {
            Line(row);
        }

        output.WriteLine();
        foreach (var note in _notes)
        {
            output.WriteLine("note: " + note);
        }

        foreach (var verdict in _verdicts)
        {
            output.WriteLine(verdict);
        }

        output.WriteLine(Failures.Count == 0 ? "all checks passed" : "FAILED CHECKS:\n  " + string.Join("\n  ", Failures));

        void Line(string[] cells)
        {
            // Numbers right-aligned, text left-aligned.
            var padded = cells.Select((cell, i) => i is 1 or 3 or 4 ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]));
            output.WriteLine(string.Join("  ", padded).TrimEnd());
        }
    }
}

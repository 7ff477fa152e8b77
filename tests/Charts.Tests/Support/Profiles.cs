namespace WebhookConnect.Charts.Tests.Support;

/// <summary>
/// The values profiles the charts are checked with: <c>tests/charts/profiles/&lt;chart&gt;/*.yaml</c> must render and
/// pass every check; <c>tests/charts/bad-profiles/&lt;chart&gt;/*.yaml</c> must be refused, each with the message its
/// first line names (<c># expect: &lt;text helm must print&gt;</c>).
/// </summary>
public static class Profiles
{
    private const string ExpectPrefix = "# expect:";

    /// <summary>The good profiles of <paramref name="chart"/>, as file names (xunit theory data), sorted.</summary>
    public static TheoryData<string> Good(string chart) => [.. Files("profiles", chart)];

    /// <summary>The bad profiles of <paramref name="chart"/>, as file names (xunit theory data), sorted.</summary>
    public static TheoryData<string> Bad(string chart) => [.. Files("bad-profiles", chart)];

    /// <summary>The full path of good profile <paramref name="name"/> of <paramref name="chart"/>.</summary>
    public static string GoodPath(string chart, string name) => Path.Combine(RepoPaths.ChartTests, "profiles", chart, name);

    /// <summary>The full path of bad profile <paramref name="name"/> of <paramref name="chart"/>.</summary>
    public static string BadPath(string chart, string name) => Path.Combine(RepoPaths.ChartTests, "bad-profiles", chart, name);

    /// <summary>The message a bad profile expects, from its first line.</summary>
    /// <exception cref="InvalidOperationException">The first line is not <c># expect: ...</c>.</exception>
    public static string ExpectedMessage(string path)
    {
        var first = File.ReadLines(path).FirstOrDefault() ?? string.Empty;
        return first.StartsWith(ExpectPrefix, StringComparison.Ordinal) && first.Length > ExpectPrefix.Length + 1
            ? first[ExpectPrefix.Length..].Trim()
            : throw new InvalidOperationException($"{path} must start with a line '{ExpectPrefix} <the message helm must print>'");
    }

    private static IEnumerable<string> Files(string kind, string chart)
    {
        var folder = Path.Combine(RepoPaths.ChartTests, kind, chart);
        return Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*.yaml").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)
            : throw new InvalidOperationException($"No profiles folder {folder}");
    }
}

using System.Globalization;
using System.Text.RegularExpressions;

namespace WebhookConnect.Benchmarks;

/// <summary>What h2load printed at the end of one run: its request rate, 2xx and 4xx/5xx counts, mean request time.
/// Compiled into each benchmark that drives h2load (a linked file, not a project).</summary>
internal sealed partial record H2LoadOutput(double RequestsPerSecond, long Ok, long Errors, string MeanLatency)
{
    /// <exception cref="InvalidOperationException">The output has no rate or status line (h2load failed to run).</exception>
    public static H2LoadOutput Parse(string output)
    {
        var rate = Rate().Match(output);
        var codes = Codes().Match(output);
        if (!rate.Success || !codes.Success)
        {
            throw new InvalidOperationException($"unexpected h2load output:\n{output}");
        }

        var latency = Latency().Match(output);
        return new H2LoadOutput(
            double.Parse(rate.Groups["rps"].Value, CultureInfo.InvariantCulture),
            long.Parse(codes.Groups["c2"].Value, CultureInfo.InvariantCulture),
            long.Parse(codes.Groups["c4"].Value, CultureInfo.InvariantCulture) + long.Parse(codes.Groups["c5"].Value, CultureInfo.InvariantCulture),
            latency.Success ? latency.Groups["mean"].Value : "?");
    }

    // "finished in 10.00s, 12631.20 req/s, …" (short runs print "ms").
    [GeneratedRegex(@"finished in [\d.]+m?s, (?<rps>[\d.]+) req/s")]
    private static partial Regex Rate();

    [GeneratedRegex(@"status codes: (?<c2>\d+) 2xx, (?<c3>\d+) 3xx, (?<c4>\d+) 4xx, (?<c5>\d+) 5xx")]
    private static partial Regex Codes();

    [GeneratedRegex(@"time for request:\s+(?<min>\S+)\s+(?<max>\S+)\s+(?<mean>\S+)")]
    private static partial Regex Latency();
}

using System.Diagnostics;

namespace WebhookConnect.ServiceDefaults.Tests.Support;

/// <summary><c>promtool check metrics</c> from Debian's <c>prometheus</c> package: the reference parser and linter.</summary>
internal static class Promtool
{
    public const string InstallHint = "apt-get install -y prometheus";

    /// <summary>Exit code of <c>promtool check metrics</c> when the text parses but the linter has findings.</summary>
    public const int LintProblemsExitCode = 3;

    /// <summary>Runs <c>promtool check metrics</c> on the exposition text; fails the test when promtool is missing.</summary>
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string exposition, CancellationToken cancellationToken)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(directory => Path.Combine(directory, "promtool"))
            .FirstOrDefault(File.Exists);
        Assert.True(path is not null,
            $"promtool is not installed, so the /metrics output cannot be checked. Install it with: {InstallHint} (scripts/test.sh does this when it may).");

        using var process = Process.Start(new ProcessStartInfo(path!, ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardInput.WriteAsync(exposition.AsMemory(), cancellationToken);
        process.StandardInput.Close();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, (await stdout) + (await stderr));
    }
}

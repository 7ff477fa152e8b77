namespace WebhookConnect.Charts.Tests.Support;

/// <summary>
/// Validates a rendered manifest stream against the Kubernetes 1.30 schemas offline, with tests/charts/validate.mjs
/// (kubernetes-models, plus the prometheus-operator and Gateway API CRD schemas; what it does and does not check is
/// written at the top of that script).
/// </summary>
public static class KubernetesSchema
{
    private const string InstallCommand = "npm ci --prefix tests/charts";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Validates every document of <paramref name="manifest"/>.</summary>
    /// <returns>Whether every document is valid, and the validator's report (one line per document, reasons indented).</returns>
    public static async Task<(bool Valid, string Report)> ValidateAsync(string manifest)
    {
        Prerequisites.RequireNodePackages(RepoPaths.ChartTests, InstallCommand);
        var file = Path.Combine(Path.GetTempPath(), $"k8s-chart-manifest-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, manifest);
        try
        {
            await using var validator = ChildProcess.Start(
                "validate", "node", [Path.Combine(RepoPaths.ChartTests, "validate.mjs"), file], workingDirectory: RepoPaths.ChartTests);
            var exitCode = await validator.WaitForExitAsync(Timeout);
            return exitCode switch
            {
                0 => (true, validator.Output),
                1 => (false, validator.Output),
                _ => throw new InvalidOperationException($"validate.mjs failed with exit code {exitCode}:{Environment.NewLine}{validator.Output}"),
            };
        }
        finally
        {
            File.Delete(file);
        }
    }
}

namespace WebhookConnect.Charts.Tests.Support;

/// <summary>
/// The connector chart (<c>charts/webhook-connect-connector</c>) and the user's chart that runs it as a sidecar
/// (<c>tests/charts/connector-sidecar-example</c>, a <c>file://</c> dependency on the connector chart).
/// </summary>
public static class ConnectorCharts
{
    /// <summary>The connector chart's folder name under <c>charts/</c> (and its profiles' folder name).</summary>
    public const string Name = "webhook-connect-connector";

    /// <summary>The full path of the connector chart.</summary>
    public static string Chart => Helm.Chart(Name);

    /// <summary>The full path of the sidecar example chart in the repository.</summary>
    public static string SidecarExample => Path.Combine(RepoPaths.ChartTests, "connector-sidecar-example");

    /// <summary>
    /// Copies the sidecar example chart into a temporary folder, points its <c>file://</c> dependency at the
    /// repository's connector chart by absolute path, and runs <c>helm dependency build</c> there (offline), so the
    /// repository stays untouched. Dispose the result to delete the copy.
    /// </summary>
    public static async Task<TemporaryChart> BuildSidecarExampleAsync(Helm helm)
    {
        var folder = Directory.CreateTempSubdirectory("k8s-connector-sidecar-").FullName;
        var chart = Path.Combine(folder, "connector-sidecar-example");
        CopyDirectory(SidecarExample, chart);
        var chartYaml = Path.Combine(chart, "Chart.yaml");
        var text = await File.ReadAllTextAsync(chartYaml);
        const string relative = "file://../../../charts/webhook-connect-connector";
        if (!text.Contains(relative, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{chartYaml} no longer depends on {relative}; update {nameof(BuildSidecarExampleAsync)}");
        }

        await File.WriteAllTextAsync(chartYaml, text.Replace(relative, "file://" + Chart, StringComparison.Ordinal));
        var result = await helm.DependencyBuildAsync(chart);
        if (!result.Succeeded)
        {
            Directory.Delete(folder, recursive: true);
            throw new InvalidOperationException(result.ToString());
        }

        return new TemporaryChart(folder, chart);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var directory in Directory.EnumerateDirectories(from))
        {
            var name = Path.GetFileName(directory);
            if (name != "charts")
            {
                CopyDirectory(directory, Path.Combine(to, name));
            }
        }
    }
}

/// <summary>A chart copied into a temporary folder; disposing deletes the folder.</summary>
/// <param name="Folder">The temporary folder.</param>
/// <param name="Path">The chart's folder inside it.</param>
public sealed record TemporaryChart(string Folder, string Path) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is not worth failing a test for.
        }
    }
}

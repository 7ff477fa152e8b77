namespace WebhookConnect.TestKit;

/// <summary>
/// Folders of the repository, found from the test binaries' location so that tests work from any current
/// directory (IDE, <c>dotnet test</c> at the root or in a project folder, CI).
/// </summary>
public static class RepoPaths
{
    private const string Marker = "Services.sln";

    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    /// <summary>The repository root: the nearest folder above the test binaries that holds Services.sln.</summary>
    public static string Root => LazyRoot.Value;

    /// <summary><c>protos/</c>: every .proto of the project.</summary>
    public static string Protos => Path.Combine(Root, "protos");

    /// <summary><c>tests/interop/</c>: the @grpc/grpc-js interop scripts.</summary>
    public static string Interop => Path.Combine(Root, "tests", "interop");

    /// <summary><c>charts/</c>: the Helm charts.</summary>
    public static string Charts => Path.Combine(Root, "charts");

    /// <summary><c>tests/charts/</c>: chart test tooling (helm, manifest validation) and the values profiles.</summary>
    public static string ChartTests => Path.Combine(Root, "tests", "charts");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, Marker)))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException(
            $"No folder above '{AppContext.BaseDirectory}' contains {Marker}; tests must run from a build inside the repository.");
    }
}

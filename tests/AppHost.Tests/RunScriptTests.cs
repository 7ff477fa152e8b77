using System.Text.RegularExpressions;
using WebhookConnect.TestKit;

namespace WebhookConnect.AppHost.Tests;

/// <summary>
/// <c>scripts/run.sh --help</c> answers at once on a machine without the .NET SDK (nothing is built first) and lists
/// every setting the AppHost reads; the AppHost refuses bad settings before starting anything, naming the setting.
/// </summary>
public sealed class RunScriptTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task HelpAnswersWithoutTheDotnetSdkAndListsEveryPortWithItsDefault()
    {
        // bash and cat only: were run.sh to build (or merely look for dotnet) before answering, it would fail here.
        var bash = Prerequisites.RequireExecutable("bash", "sudo apt-get install -y bash");
        await using var run = ChildProcess.Start("run.sh", bash, [Path.Combine(RepoPaths.Root, "scripts", "run.sh"), "--help"],
            new Dictionary<string, string?> { ["PATH"] = "/nonexistent" + Path.PathSeparator + Path.GetDirectoryName(Prerequisites.RequireExecutable("cat", "coreutils")) });
        var code = await run.WaitForExitAsync(Patience);
        var help = run.Output;
        Assert.True(code == 0, $"run.sh --help exited with {code}:\n{help}");
        Assert.Contains("Usage: scripts/run.sh [--data DIR] [--fresh]", help, StringComparison.Ordinal);
        foreach (var (variable, value, _) in StackSettings.PortSettings)
        {
            Assert.Matches(new Regex($@"\s{variable}\s+{value}\s"), help);
        }

        Assert.Contains($"ADMIN_TOKEN                      admin token, at least {StackSettings.MinimumAdminTokenLength} characters", help, StringComparison.Ordinal);
        Assert.DoesNotContain("build", help.Split('\n')[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ADMIN_TOKEN", "too_short_for_admin", "ADMIN_TOKEN is 19 characters long; admin accepts tokens of at least 32")]
    [InlineData("INGRESS_PORT", "80a", "INGRESS_PORT = '80a' is not a port (1-65535)")]
    [InlineData("ECHO_PORT", "5001", "QUEUE_MANAGER_PORT and ECHO_PORT are both 5001")]
    public async Task ABadSettingStopsTheAppHostBeforeItStartsAnythingAndNamesTheSetting(string variable, string value, string message)
    {
        var appHost = Path.Combine(RepoPaths.Root, "hosting", "WebhookConnect.AppHost", "bin", ServiceBinaries.Configuration, "net10.0", "WebhookConnect.AppHost.dll");
        await using var run = ChildProcess.Start("apphost", "dotnet", [appHost], new Dictionary<string, string?> { [variable] = value });
        var code = await run.WaitForExitAsync(Patience);
        Assert.Equal(2, code);
        Assert.Contains($"run: {message}", run.Output, StringComparison.Ordinal);
        Assert.Contains("(see scripts/run.sh --help)", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Distributed application starting", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownArgumentIsRefusedByName()
    {
        var appHost = Path.Combine(RepoPaths.Root, "hosting", "WebhookConnect.AppHost", "bin", ServiceBinaries.Configuration, "net10.0", "WebhookConnect.AppHost.dll");
        await using var run = ChildProcess.Start("apphost", "dotnet", [appHost, "--port", "1"]);
        Assert.Equal(2, await run.WaitForExitAsync(Patience));
        Assert.Contains("run: unknown argument '--port' (see scripts/run.sh --help)", run.Output, StringComparison.Ordinal);
    }
}

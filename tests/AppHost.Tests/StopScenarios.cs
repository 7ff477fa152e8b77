using WebhookConnect.AppHost.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.AppHost.Tests;

/// <summary>SIGTERM (a service manager, <c>kill</c>, a CI runner's timeout) stops the stack as cleanly as Ctrl-C.</summary>
public sealed class StopScenarios
{
    [Fact]
    public async Task SigtermStopsEveryProcessAndExitsZero()
    {
        await using var stack = LocalStack.Start();
        await stack.WaitUntilReadyAsync();
        var processes = ProcessTable.StackProcesses(stack.Process.Id);
        Assert.Contains(processes, p => p.Name == "redis-server");

        stack.Process.Signal(ChildProcess.SigTerm);
        var code = await stack.Process.WaitForExitAsync(TimeSpan.FromSeconds(90));
        Assert.True(code == 0, $"the AppHost exited with {code} after SIGTERM:\n{stack.Process.Output}");
        Assert.Contains("all processes stopped", stack.Process.Output, StringComparison.Ordinal);
        await ProcessTable.AssertNoneLeftAsync(processes);
    }
}

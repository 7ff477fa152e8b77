using System.Net;
using System.Text;
using System.Text.Json;
using PuppeteerSharp;
using WebhookConnect.AppHost.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.AppHost.Tests;

/// <summary>
/// The README's run command as a user runs it: the AppHost on free ports with a fresh data directory; a webhook posted
/// as its screen says reaches the echo target (shown in the terminal) and is acked; its trace is in the dashboard
/// with a span for every hop; the dashboard, opened in chromium, shows every resource running; Ctrl-C (SIGINT) exits
/// 0 and leaves no process behind, the orchestrator's included.
/// </summary>
public sealed partial class RunCommandTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task TheRunCommandDeliversTheDemoWebhookShowsItsTraceAndEveryResourceInTheDashboardAndCtrlCLeavesNoProcessBehind()
    {
        await using var stack = LocalStack.Start();
        await stack.WaitUntilReadyAsync();
        var screen = stack.Process.Output;
        var ingress = stack.Url("INGRESS_PORT", "/webhook/demo");
        var login = $"http://127.0.0.1:{stack.Ports["DASHBOARD_PORT"]}/login?t=";
        Assert.Contains("Webhook Connect is running", screen, StringComparison.Ordinal);
        Assert.Contains($"-d '{{\"hello\":\"world\"}}' {ingress}", screen, StringComparison.Ordinal);
        Assert.Contains($"export ADMIN_TOKEN={LocalStack.AdminToken}", screen, StringComparison.Ordinal);
        Assert.Contains($"grpcurl -plaintext 127.0.0.1:{stack.Ports["ADMIN_GRPC_PORT"]} list", screen, StringComparison.Ordinal);
        Assert.Contains($"dotnet run --project tools/WebhookConnect.Cli -- tail demo --admin http://127.0.0.1:{stack.Ports["ADMIN_GRPC_PORT"]}", screen, StringComparison.Ordinal);
        Assert.Contains(login, screen, StringComparison.Ordinal);
        Assert.Contains(stack.Url("ADMIN_HTTP_PORT", "/console/").ToString(), screen, StringComparison.Ordinal);

        // The screen's curl, by HttpClient, as a sender that traces: the whole relay joins the sender's trace.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        const string body = """{"hello":"apphost test"}""";
        var traceId = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        using var post = new HttpRequestMessage(HttpMethod.Post, ingress) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        post.Headers.TryAddWithoutValidation("traceparent", $"00-{traceId}-{"00f067aa0ba902b7"}-01");
        using var posted = await http.SendAsync(post);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        var id = JsonDocument.Parse(await posted.Content.ReadAsStringAsync()).RootElement.GetProperty("message_id").GetString();

        // The terminal shows the echo target's line for the delivery.
        var echoed = await stack.Process.WaitForLineAsync(line => line.Contains($"message_id={id}", StringComparison.Ordinal), Patience);
        Assert.Contains($"echo         | POST /webhooks channel=demo endpoint=demo message_id={id} attempt=1 {body.Length} bytes: {body}", echoed, StringComparison.Ordinal);

        // The screen's admin curl: acked.
        await Eventually.UntilAsync(
            async () => (await stack.AdminGetAsync(http, "/admin/webhook-connect/channels/demo/stats")).GetProperty("acked_total").ToString() == "1",
            Patience,
            "admin's stats to show the demo webhook acked");

        // The dashboard holds the webhook's trace: every hop, one trace id.
        var spans = await DashboardTelemetry.WaitForTraceAsync(http, stack, traceId, TraceHops.All, Patience);
        TraceHops.AssertChain(spans);

        // The dashboard in a real browser: every resource running.
        await using (var dashboard = await DashboardBrowser.OpenAsync(login + ReadLoginToken(screen, login)))
        {
            await dashboard.WaitUntilRunningAsync(StackResourcesNames);
            Assert.True(File.Exists(await dashboard.ScreenshotAsync("dashboard-resources.png")));

            // The dev loop: Restart on one resource's row starts a new process for it; the others keep theirs.
            var before = ProcessTable.StackProcesses(stack.Process.Id);
            var echoBefore = Assert.Single(before, p => IsProgram(p, "WebhookConnect.EchoTarget"));
            var others = before.Where(p => IsProgram(p, "WebhookConnect.") && p != echoBefore).ToList();
            Assert.Equal(4, others.Count);
            await dashboard.RestartAsync("echo");
            await Eventually.UntilAsync(
                () => !echoBefore.IsAlive && ProcessTable.StackProcesses(stack.Process.Id).Any(p => IsProgram(p, "WebhookConnect.EchoTarget") && p.Id != echoBefore.Id),
                Patience,
                "a new echo target process after Restart");
            Assert.All(others, p => Assert.True(p.IsAlive, $"{p} was restarted with echo"));
            await dashboard.WaitUntilRunningAsync(StackResourcesNames);
        }

        // The restarted echo target gets the next delivery, and the terminal shows it.
        using var again = await http.PostAsync(ingress, new StringContent("""{"again":true}""", Encoding.UTF8, "application/json"));
        var againId = JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement.GetProperty("message_id").GetString();
        await stack.Process.WaitForLineAsync(line => line.Contains($"echo         | POST /webhooks channel=demo endpoint=demo message_id={againId} attempt=1", StringComparison.Ordinal), Patience);

        // No secret on a command line: every process of the stack is listed by `ps` for every user.
        var processes = ProcessTable.StackProcesses(stack.Process.Id);
        Assert.True(processes.Count >= 7, $"expected redis-server, five .NET programs and the dashboard under the stack, found: {string.Join(", ", processes)}");
        var exposing = ProcessEntry.All().Where(p => p.CommandLine.Contains(LocalStack.AdminToken, StringComparison.Ordinal)).ToList();
        Assert.True(exposing.Count == 0, $"the admin token is on the command line of {string.Join(", ", exposing)}");

        stack.Process.Signal(ChildProcess.SigInt);
        var code = await stack.Process.WaitForExitAsync(Patience);
        Assert.True(code == 0, $"the AppHost exited with {code} after Ctrl-C:\n{stack.Process.Output}");
        Assert.Contains("all processes stopped", stack.Process.Output, StringComparison.Ordinal);
        await ProcessTable.AssertNoneLeftAsync(processes);
        // A clean start, one webhook, a restart and a Ctrl-C: no process of ours writes an error or critical line
        // (the terminal shows every one, prefixed with its resource's name), and Aspire writes no critical one.
        // Aspire's orchestrator may log a failed call to its own API as "fail" on a machine too busy to answer in time
        // (seen once on 2 loaded cores); those lines are kept in the test's output, not counted.
        // Aspire puts the level first ("[apphost] fail: Category[0]") and the message on the next line.
        var lines = stack.Process.Output.Split('\n');
        string WithMessage(int i) => lines[i] + (i + 1 < lines.Length ? " " + lines[i + 1].Trim() : "");
        var ours = lines.Select((line, i) => (line, i))
            .Where(l => OurProcessLine().IsMatch(l.line) && (l.line.Contains(" fail: ", StringComparison.Ordinal) || l.line.Contains(" crit: ", StringComparison.Ordinal)))
            .Select(l => l.line).ToList();
        var critical = lines.Select((line, i) => (line, i)).Where(l => l.line.StartsWith("[apphost] crit: ", StringComparison.Ordinal)).Select(l => WithMessage(l.i)).ToList();
        foreach (var (line, i) in lines.Select((line, i) => (line, i)).Where(l => l.line.StartsWith("[apphost] fail: ", StringComparison.Ordinal)))
        {
            TestContext.Current.TestOutputHelper?.WriteLine("Aspire: " + WithMessage(i));
        }

        Assert.True(ours.Count + critical.Count == 0, "error lines in a clean run:\n" + string.Join('\n', ours.Concat(critical)) + "\n\nthe whole output:\n" + stack.Process.Output);
    }

    /// <summary>A line the AppHost mirrors from one of the stack's processes: "<c>queue-manager | …</c>".</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^\[apphost\] (redis|queue-manager|admin|ingress|echo|connector) *\| ")]
    private static partial System.Text.RegularExpressions.Regex OurProcessLine();

    private static readonly string[] StackResourcesNames = [.. WebhookConnect.AppHost.StackResources.Names];

    /// <summary>A built program itself (bin/…/net10.0/NAME…), not the <c>dotnet run</c> that started it.</summary>
    private static bool IsProgram(ProcessEntry process, string name) =>
        process.CommandLine.Contains($"/net10.0/{name}", StringComparison.Ordinal);

    private static string ReadLoginToken(string screen, string login)
    {
        var start = screen.IndexOf(login, StringComparison.Ordinal) + login.Length;
        var end = start;
        while (end < screen.Length && Uri.IsHexDigit(screen[end]))
        {
            end++;
        }

        return screen[start..end];
    }
}

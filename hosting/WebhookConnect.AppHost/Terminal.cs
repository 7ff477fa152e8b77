using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Hosting;

namespace WebhookConnect.AppHost;

/// <summary>
/// What the terminal shows besides Aspire's own lines, so the README walkthrough works without a browser: the "try
/// this" screen once every resource is ready, every line of the echo target (one per delivery), and every warning,
/// error and stderr line of every other process, each with its resource's name as prefix. The dashboard has all the
/// rest.
/// </summary>
public sealed partial class Terminal(
    DistributedApplicationModel model,
    ResourceLoggerService logs,
    ResourceNotificationService notifications,
    StackSettings settings,
    DevData data,
    Leftovers leftovers) : BackgroundService
{
    private static readonly string[] Levels = [" warn: ", " fail: ", " crit: "];
    private readonly Lock _gate = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var watchers = model.Resources.Where(r => StackResources.Names.Contains(r.Name)).Select(r => MirrorAsync(r, stoppingToken)).ToList();
        try
        {
            foreach (var name in StackResources.Names)
            {
                await notifications.WaitForResourceHealthyAsync(name, stoppingToken);
            }

            Write(Screen());
            // The processes to wait for at Ctrl-C; refreshed, since a resource restarted from the dashboard is a new one.
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
            do
            {
                leftovers.Refresh();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await Task.WhenAll(watchers);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        leftovers.Refresh();
        Line("run", "stopping everything");
        return base.StopAsync(cancellationToken);
    }

    private async Task MirrorAsync(IResource resource, CancellationToken cancellationToken)
    {
        var echo = resource.Name == "echo";
        try
        {
            await foreach (var batch in logs.WatchAsync(resource).WithCancellation(cancellationToken))
            {
                foreach (var line in batch)
                {
                    // DCP puts its own timestamp first; the services' lines carry theirs.
                    var content = Timestamp().Replace(line.Content, "", 1);
                    if (line.IsErrorMessage || (echo ? EchoLine().IsMatch(content) : Levels.Any(level => content.Contains(level, StringComparison.Ordinal))))
                    {
                        Line(resource.Name, content);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT[0-9:.]+Z ")]
    private static partial Regex Timestamp();

    /// <summary>The echo target's own lines (a delivery, or its new answer), not the orchestrator's notes about it.</summary>
    [GeneratedRegex("^([A-Z]+ /|answering )")]
    private static partial Regex EchoLine();

    private void Line(string source, string line)
    {
        lock (_gate)
        {
            Console.Out.WriteLine($"{source,-13}| {line}");
        }
    }

    private void Write(string text)
    {
        lock (_gate)
        {
            Console.Out.Write(text);
            Console.Out.Flush();
        }
    }

    private string Screen()
    {
        var adminGrpc = settings.Port("ADMIN_GRPC_PORT");
        var screen = new StringBuilder();
        screen.AppendLine();
        screen.AppendLine("  Webhook Connect is running. Try:");
        screen.AppendLine();
        screen.AppendLine("  # post a webhook (the echo target prints it here)");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  curl -s -X POST -H 'Content-Type: application/json' -d '{{\"hello\":\"world\"}}' {settings.Loopback("INGRESS_PORT")}/webhook/demo");
        screen.AppendLine();
        screen.AppendLine("  # the admin API with grpcurl and curl");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  export ADMIN_TOKEN={settings.AdminToken}{(settings.AdminTokenGenerated ? "    (generated; set ADMIN_TOKEN to choose one)" : "")}");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  grpcurl -plaintext 127.0.0.1:{adminGrpc} list");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  grpcurl -plaintext -H \"authorization: Bearer $ADMIN_TOKEN\" -d '{{\"channel\":\"demo\"}}' 127.0.0.1:{adminGrpc} webhookconnect.admin.v1.AdminService/GetChannelStats");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" {settings.Loopback("ADMIN_HTTP_PORT")}/admin/webhook-connect/channels/demo/stats");
        screen.AppendLine();
        screen.AppendLine("  # the operator console in a browser: channels, live tail, history, resend (sign in with $ADMIN_TOKEN)");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  {settings.Loopback("ADMIN_HTTP_PORT")}/console/");
        screen.AppendLine();
        screen.AppendLine("  # watch what arrives on demo, one line per event (docs/cli.md; then: ... -- resend demo <message-id>)");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  WEBHOOKCONNECT_TOKEN=$ADMIN_TOKEN dotnet run --project tools/WebhookConnect.Cli -- tail demo --admin http://127.0.0.1:{adminGrpc}");
        screen.AppendLine();
        screen.AppendLine("  # every process's logs, the traces of each webhook, metrics: the dashboard");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  {settings.Loopback("DASHBOARD_PORT")}/login?t={settings.DashboardToken}");
        screen.AppendLine();
        screen.AppendLine(CultureInfo.InvariantCulture, $"  data: {data.Root}   demo channel token: {data.DemoTokenFile}");
        screen.AppendLine("  Ctrl-C stops everything.");
        screen.AppendLine();
        return screen.ToString();
    }
}

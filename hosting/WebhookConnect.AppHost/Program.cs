using WebhookConnect.AppHost;

// The whole relay on one machine (scripts/run.sh): read the settings, write the data directory, describe Redis, the
// services, the echo target and the connector to Aspire, run until Ctrl-C or SIGTERM. --help is scripts/run.sh's.
StackSettings settings;
try
{
    settings = StackSettings.Read(args, Environment.GetEnvironmentVariable);
    MachineCheck.Check(settings);
}
catch (StackSettingsException ex)
{
    await Console.Error.WriteLineAsync($"run: {ex.Message} (see scripts/run.sh --help)");
    return 2;
}

var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions { Args = [], DashboardApplicationName = "Webhook Connect" });
builder.UseLocalDashboard(settings);
var leftovers = new Leftovers();
builder.AddWebhookConnect(settings, DevData.Prepare(settings), leftovers);
await builder.Build().RunAsync();
var left = await leftovers.WaitAsync(TimeSpan.FromSeconds(60), line => Console.Out.WriteLine($"{"run",-13}| {line}"));
Console.Out.WriteLine(left == 0 ? $"{"run",-13}| all processes stopped" : $"{"run",-13}| {left} processes did not stop");
return left == 0 ? 0 : 1;

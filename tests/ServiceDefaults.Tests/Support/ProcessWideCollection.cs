namespace WebhookConnect.ServiceDefaults.Tests.Support;

/// <summary>
/// Tests that swap Console.Out or listen to process-wide activity sources or meters run alone, after the parallel
/// ones, so no other test's output, spans or measurements leak into what they observe. (An OpenTelemetry meter provider
/// listens to every meter of a name in the process, whichever host's IMeterFactory created it: one service per process
/// in production, several hosts at once in this test process.)
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideCollection
{
    public const string Name = "Process-wide";
}

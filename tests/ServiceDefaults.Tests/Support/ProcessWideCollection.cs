namespace WebhookConnect.ServiceDefaults.Tests.Support;

/// <summary>
/// Tests that swap Console.Out or listen to process-wide activity sources run alone, after the parallel ones,
/// so no other test's output or spans leak into what they observe.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideCollection
{
    public const string Name = "Process-wide";
}

using WebhookConnect.Console.Tests.Support;

namespace WebhookConnect.Console.Tests;

/// <summary>The console tests share one stack and one browser (each test has its own browser context): starting
/// them once keeps the project's time small. Tests of the collection run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class ConsoleCollection : ICollectionFixture<ConsoleStack>
{
    public const string Name = "console";
}

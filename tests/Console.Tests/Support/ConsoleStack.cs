using PuppeteerSharp;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Console.Tests.Support;

/// <summary>
/// One stack for the console tests of a class: the cloud side (<see cref="ScenarioStack"/>, with a read-only and a
/// contents token besides the admin token), the channel <c>demo</c> (endpoint <c>demo</c>) delivered by a connector to
/// a recording target, and one headless chromium. Each test opens its own browser context (its own cookies) with
/// <see cref="OpenAsync"/>.
/// </summary>
public sealed class ConsoleStack : IAsyncLifetime
{
    public const string Channel = "demo";
    public const string ReadOnlyToken = "read-only-token-for-console-tests-0123456789";
    public const string ContentsToken = "contents-token-for-console-tests-0123456789";

    public static readonly TimeSpan Patience = ScenarioStack.Patience;

    private IBrowser? _browser;

    public ScenarioStack Stack { get; private set; } = null!;

    public TargetServer Target { get; private set; } = null!;

    /// <summary>Every admin token the stack accepts, for the checks that none of them leaks.</summary>
    public static IReadOnlyList<string> Tokens => [ScenarioStack.AdminToken, ReadOnlyToken, ContentsToken];

    /// <summary>The console's address.</summary>
    public Uri Console => new(Stack.AdminHttp, "/console/");

    public async ValueTask InitializeAsync()
    {
        var chromium = Prerequisites.RequireExecutable("chromium", "sudo apt-get install -y chromium");
        Stack = await ScenarioStack.StartAsync(serviceSettings: new Dictionary<string, string>
        {
            ["Admin:ReadOnlyTokens"] = ReadOnlyToken,
            ["Admin:ContentsTokens"] = ContentsToken,
            // Every request line is logged, so "the token is in no log line" is checked against a talkative log.
            ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information",
            ["Logging:LogLevel:Microsoft.AspNetCore.Routing"] = "Debug",
        });
        var token = await Stack.CreateChannelAsync(Channel, [Channel]);
        Target = await Stack.StartTargetAsync();
        await Stack.StartConnectorAsync(Channel, token, Target);
        _browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // As root chromium needs --no-sandbox; /dev/shm is small on CI machines.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>A fresh browser context (no cookies) with the console open at its sign-in form.</summary>
    public async Task<ConsolePage> OpenAsync() => await ConsolePage.OpenAsync(await _browser!.CreateBrowserContextAsync(), Console);

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        if (Stack is not null)
        {
            await Stack.DisposeAsync();
        }
    }
}

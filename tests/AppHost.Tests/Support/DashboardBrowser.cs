using PuppeteerSharp;
using WebhookConnect.TestKit;

namespace WebhookConnect.AppHost.Tests.Support;

/// <summary>
/// The Aspire dashboard in Debian's chromium (headless, driven over the DevTools protocol by PuppeteerSharp; no browser
/// is downloaded). Screenshots are test output, written to <c>artifacts/screenshots/</c> in the repository.
/// </summary>
public sealed class DashboardBrowser : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly IBrowser _browser;
    private readonly IPage _page;

    private DashboardBrowser(IBrowser browser, IPage page)
    {
        _browser = browser;
        _page = page;
    }

    /// <summary>Signs in with the login URL (the token is in the URL only for this first request; the dashboard
    /// answers with a session cookie and the resources page).</summary>
    public static async Task<DashboardBrowser> OpenAsync(string loginUrl)
    {
        var chromium = Prerequisites.RequireExecutable("chromium", "sudo apt-get install -y chromium");
        var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // As root chromium needs --no-sandbox; /dev/shm is small on CI machines.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1440, Height = 900 });
        await page.GoToAsync(loginUrl, new NavigationOptions { Timeout = (int)Patience.TotalMilliseconds, WaitUntil = [WaitUntilNavigation.Load] });
        return new DashboardBrowser(browser, page);
    }

    /// <summary>Waits until the resources page lists every resource in <paramref name="resources"/> as Running.</summary>
    public async Task WaitUntilRunningAsync(IReadOnlyList<string> resources)
    {
        // One row per resource; its name and its state are cells of the row.
        const string everyResourceRunning = """
            (names) => {
              const rows = [...document.querySelectorAll('[role="row"]')].map(r => r.innerText);
              return names.every(n => rows.some(r => r.split(/\s+/).includes(n) && /\bRunning\b/.test(r)));
            }
            """;
        try
        {
            await _page.WaitForFunctionAsync(everyResourceRunning, new WaitForFunctionOptions { Timeout = (int)Patience.TotalMilliseconds, PollingInterval = 500 }, resources);
        }
        catch (WaitTaskTimeoutException ex)
        {
            await ScreenshotAsync("failed-resources.png");
            throw new TimeoutException($"the dashboard did not list every resource as Running ({string.Join(", ", resources)}); it shows:\n{await TextAsync()}", ex);
        }
    }

    /// <summary>Presses Restart in a resource's row menu, as a developer does after rebuilding that service.</summary>
    public async Task RestartAsync(string resource)
    {
        // The row's last cell holds its actions; the "…" button opens the menu that has Restart.
        var opened = await _page.EvaluateFunctionAsync<bool>("""
            (name) => {
              const row = [...document.querySelectorAll('[role="row"]')].find(r => r.innerText.split(/\s+/).includes(name));
              if (!row) return false;
              const buttons = [...row.querySelectorAll('fluent-button, button')];
              const more = buttons.reverse().find(b => true);
              if (!more) return false;
              more.click();
              return true;
            }
            """, resource);
        if (!opened)
        {
            throw new InvalidOperationException($"no row with an actions menu for {resource}; the page shows:\n{await TextAsync()}");
        }

        const string restartItem = """
            () => {
              const item = [...document.querySelectorAll('fluent-menu-item, [role="menuitem"]')].find(i => /^\s*Restart\s*$/.test(i.innerText));
              if (!item) return false;
              item.click();
              return true;
            }
            """;
        try
        {
            await _page.WaitForFunctionAsync(restartItem, new WaitForFunctionOptions { Timeout = 30_000, PollingInterval = 250 });
        }
        catch (WaitTaskTimeoutException ex)
        {
            await ScreenshotAsync("failed-restart-menu.png");
            throw new TimeoutException($"no Restart item in {resource}'s menu; the page shows:\n{await TextAsync()}", ex);
        }
    }

    /// <summary>Keeps a screenshot of the page as test output; returns its path.</summary>
    public async Task<string> ScreenshotAsync(string fileName)
    {
        var folder = Path.Combine(RepoPaths.Root, "artifacts", "screenshots");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, fileName);
        await _page.ScreenshotAsync(path, new ScreenshotOptions { FullPage = true });
        return path;
    }

    private Task<string> TextAsync() => _page.EvaluateExpressionAsync<string>("document.body ? document.body.innerText : ''");

    public async ValueTask DisposeAsync()
    {
        await _page.DisposeAsync();
        await _browser.DisposeAsync();
    }
}

using PuppeteerSharp;
using WebhookConnect.TestKit;

namespace WebhookConnect.AppHost.Tests.Support;

/// <summary>
/// The Aspire dashboard in Debian's chromium (headless, driven over the DevTools protocol by PuppeteerSharp; no browser
/// is downloaded). Screenshots are test output, written to <c>artifacts/screenshots/</c> in the repository.
/// </summary>
public static class DashboardBrowser
{
    /// <summary>Signs in with the login URL, waits until the resources page lists every resource as Running, and
    /// keeps a screenshot. Returns the screenshot's path.</summary>
    public static async Task<string> ScreenshotResourcesAsync(string loginUrl, IReadOnlyList<string> resources, string fileName)
    {
        var chromium = Prerequisites.RequireExecutable("chromium", "sudo apt-get install -y chromium");
        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // As root chromium needs --no-sandbox; /dev/shm is small on CI machines.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        await using var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1440, Height = 900 });
        await page.GoToAsync(loginUrl, new NavigationOptions { Timeout = 60_000, WaitUntil = [WaitUntilNavigation.Load] });

        // The resources page: one row per resource, its state in a column.
        const string everyResourceRunning = """
            (names) => {
              const rows = [...document.querySelectorAll('[role="row"]')].map(r => r.innerText);
              return names.every(n => rows.some(r => r.split(/\s+/).includes(n) && /\bRunning\b/.test(r)));
            }
            """;
        try
        {
            await page.WaitForFunctionAsync(everyResourceRunning, new WaitForFunctionOptions { Timeout = 90_000, PollingInterval = 500 }, resources);
        }
        catch (WaitTaskTimeoutException ex)
        {
            var text = await page.EvaluateExpressionAsync<string>("document.body ? document.body.innerText : ''");
            await KeepScreenshotAsync(page, "failed-" + fileName);
            throw new TimeoutException($"the dashboard did not list every resource as Running ({string.Join(", ", resources)}); it shows:\n{text}", ex);
        }

        return await KeepScreenshotAsync(page, fileName);
    }

    private static async Task<string> KeepScreenshotAsync(IPage page, string fileName)
    {
        var folder = Path.Combine(RepoPaths.Root, "artifacts", "screenshots");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, fileName);
        await page.ScreenshotAsync(path, new ScreenshotOptions { FullPage = true });
        return path;
    }
}

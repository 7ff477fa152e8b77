using System.Collections.Concurrent;
using PuppeteerSharp;
using PuppeteerSharp.Input;
using WebhookConnect.TestKit;

namespace WebhookConnect.Console.Tests.Support;

/// <summary>
/// The console in one browser context: the page, every request it made (URL and method), and every dialog a script
/// opened (none should). Screenshots are test output in <c>artifacts/screenshots/console-*.png</c>, taken at a
/// 1366×768 laptop's viewport.
/// </summary>
public sealed class ConsolePage : IAsyncDisposable
{
    /// <summary>How long a wait in the page may take: the page refreshes every 2 s, the services answer in
    /// milliseconds; generous for a busy 2-core machine, short enough that a broken page fails the test soon.</summary>
    private static readonly int Wait = 30_000;
    private readonly IBrowserContext _context;
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly ConcurrentQueue<string> _dialogs = new();
    private readonly ConcurrentQueue<string> _consoleErrors = new();

    private ConsolePage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.Request += (_, e) => _requests.Enqueue(e.Request.Url);
        page.Console += (_, e) =>
        {
            if (e.Message.Type == ConsoleType.Error)
            {
                _consoleErrors.Enqueue(e.Message.Text);
            }
        };
        page.Dialog += async (_, e) =>
        {
            _dialogs.Enqueue(e.Dialog.Message);
            await e.Dialog.Dismiss();
        };
    }

    public IPage Page { get; }

    /// <summary>Every URL the page requested so far (documents, scripts, fetches, redirects followed).</summary>
    public IReadOnlyList<string> RequestedUrls => [.. _requests];

    /// <summary>Messages of the dialogs (alert, confirm, prompt) scripts opened.</summary>
    public IReadOnlyList<string> Dialogs => [.. _dialogs];

    /// <summary>Errors the browser reported on its console (a Content-Security-Policy violation is one).</summary>
    public IReadOnlyList<string> ConsoleErrors => [.. _consoleErrors];

    public static async Task<ConsolePage> OpenAsync(IBrowserContext context, Uri console)
    {
        var page = new ConsolePage(context, await context.NewPageAsync());
        await page.Page.SetViewportAsync(new ViewPortOptions { Width = 1366, Height = 768 });
        await page.Page.GoToAsync(console.ToString(), new NavigationOptions { Timeout = Wait, WaitUntil = [WaitUntilNavigation.Load] });
        await page.VisibleAsync("#signin", "the sign-in form");
        return page;
    }

    /// <summary>Signs in as a user does: types the token into the form and presses its button.</summary>
    public async Task SignInAsync(string token)
    {
        await Page.TypeAsync("#token", token);
        await Task.WhenAll(
            Page.WaitForNavigationAsync(new NavigationOptions { Timeout = Wait }),
            Page.ClickAsync("#signin button[type=submit]"));
        await VisibleAsync("#who", "the signed-in line");
    }

    /// <summary>Follows a link of the page to a route of the console.</summary>
    public Task GoAsync(string hash) => Page.EvaluateFunctionAsync("h => { location.hash = h; }", hash);

    /// <summary>Waits until <paramref name="selector"/> matches a visible element.</summary>
    public async Task<IElementHandle> VisibleAsync(string selector, string what)
    {
        try
        {
            return await Page.WaitForSelectorAsync(selector, new WaitForSelectorOptions { Visible = true, Timeout = Wait });
        }
        catch (WaitTaskTimeoutException ex)
        {
            throw await FailureAsync($"{what} ({selector}) never appeared", ex);
        }
    }

    /// <summary>Waits until the script <paramref name="condition"/> (a function of <paramref name="args"/>) is truthy.</summary>
    public async Task UntilAsync(string condition, string what, params object[] args)
    {
        try
        {
            await Page.WaitForFunctionAsync(condition, new WaitForFunctionOptions { Timeout = Wait, PollingInterval = 100 }, args);
        }
        catch (WaitTaskTimeoutException ex)
        {
            throw await FailureAsync($"waited for {what}", ex);
        }
    }

    /// <summary>The visible text of the element <paramref name="selector"/> ("" when there is none).</summary>
    public Task<string> TextAsync(string selector) =>
        Page.EvaluateFunctionAsync<string>("s => { const e = document.querySelector(s); return e ? e.innerText : ''; }", selector);

    public Task<bool> ExistsAsync(string selector) =>
        Page.EvaluateFunctionAsync<bool>("s => document.querySelector(s) !== null", selector);

    /// <summary>Presses Tab until the focused element matches <paramref name="selector"/>; returns how many presses it took.</summary>
    public async Task<int> TabToAsync(string selector, int most = 60)
    {
        for (var presses = 1; presses <= most; presses++)
        {
            await Page.Keyboard.PressAsync(Key.Tab);
            if (await Page.EvaluateFunctionAsync<bool>("s => document.activeElement !== null && document.activeElement.matches(s)", selector))
            {
                return presses;
            }
        }

        throw await FailureAsync($"{most} presses of Tab never focused {selector}", null);
    }

    /// <summary>Sends a request from inside the page (same origin, the session cookie attached by the browser), with
    /// the CSRF header copied from its cookie when <paramref name="withCsrf"/>; returns the HTTP status.</summary>
    public Task<int> FetchStatusAsync(string method, string path, bool withCsrf) =>
        Page.EvaluateFunctionAsync<int>("""
            async (method, path, withCsrf) => {
              const headers = { 'Content-Type': 'application/json' };
              if (withCsrf) {
                const c = document.cookie.split(';').map(s => s.trim()).find(s => s.startsWith('wc_console_csrf='));
                headers['X-CSRF-Token'] = decodeURIComponent(c.slice('wc_console_csrf='.length));
              }
              const r = await fetch(path, { method, headers, body: method === 'GET' ? undefined : '{}' });
              return r.status;
            }
            """, method, path, withCsrf);

    /// <summary>Keeps a screenshot of the viewport (a laptop screen) as test output; returns its path.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        var folder = Path.Combine(RepoPaths.Root, "artifacts", "screenshots");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"console-{name}.png");
        await Page.ScreenshotAsync(path);
        return path;
    }

    private async Task<Exception> FailureAsync(string what, Exception? inner)
    {
        var shot = await ScreenshotAsync("failed");
        var text = await Page.EvaluateExpressionAsync<string>("document.body ? document.body.innerText : ''");
        return new TimeoutException($"{what}; screenshot {shot}; the page shows:\n{text}", inner);
    }

    public async ValueTask DisposeAsync()
    {
        await Page.CloseAsync();
        await _context.CloseAsync();
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grpc.Core;
using PuppeteerSharp;
using PuppeteerSharp.Input;
using WebhookConnect.Console.Tests.Support;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Console.Tests;

/// <summary>
/// The operator console (docs/console.md) in headless chromium against the real services: sign-in, the channels and
/// connections, the session's security (cookies, CSRF, CSP, no token anywhere), read-only tokens, text-only rendering
/// of message contents, and the keyboard.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed partial class ConsoleTests(ConsoleStack console)
{
    private const string Api = "/admin/webhook-connect";

    [Fact]
    public async Task SigningInWithTheAdminTokenShowsTheDemoChannelWithItsDepthRateAndConnection()
    {
        await using var page = await console.OpenAsync();
        await page.SignInAsync(ScenarioStack.AdminToken);

        // The rate needs two stats samples: a number instead of "—" proves the second one came.
        await page.UntilAsync("""
            () => [...document.querySelectorAll('#view table tbody tr')].some(r =>
              r.cells.length === 8 && r.cells[0].innerText === 'demo' && r.cells[1].innerText === 'active' && /^\d+\.\d$/.test(r.cells[6].innerText))
            """, "the demo channel's row with its state and a rate");
        await page.UntilAsync("""
            () => [...document.querySelectorAll('#view table tbody tr')].some(r =>
              r.cells.length === 8 && r.cells[0].innerText === 'demo' && r.cells[2].innerText === 'grpc')
            """, "the connector's row (channel demo, protocol grpc)");
        Assert.Contains("Signed in with an admin token (rw-", await page.TextAsync("#who"), StringComparison.Ordinal);
        await page.ScreenshotAsync("channels");

        var cookies = (await page.Page.GetCookiesAsync()).ToDictionary(c => c.Name);
        var session = cookies["wc_console_session"];
        Assert.Equal((true, SameSite.Strict, true, "/"), (session.HttpOnly ?? false, session.SameSite ?? SameSite.None, session.Session ?? false, session.Path));
        var csrf = cookies["wc_console_csrf"];
        Assert.Equal((false, SameSite.Strict, true, "/"), (csrf.HttpOnly ?? true, csrf.SameSite ?? SameSite.None, csrf.Session ?? false, csrf.Path));
        Assert.DoesNotContain(ScenarioStack.AdminToken, session.Value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheTokenIsInNoRequestedUrlNoPageHtmlNoCookieAndNoAdminLogLine()
    {
        const string wrongToken = "not-a-configured-token-0123456789abcdef";
        await using (var refused = await console.OpenAsync())
        {
            await refused.Page.TypeAsync("#token", wrongToken);
            await Task.WhenAll(refused.Page.WaitForNavigationAsync(), refused.Page.ClickAsync("#signin button[type=submit]"));
            await refused.VisibleAsync("#signin-failed", "the refusal");
            Assert.EndsWith("/console/?signin=failed", refused.Page.Url, StringComparison.Ordinal);
        }

        await using var page = await console.OpenAsync();
        await page.SignInAsync(ScenarioStack.AdminToken);
        await page.GoAsync("#/channels/demo");
        await page.VisibleAsync("#tail", "the channel's live tail");
        await page.UntilAsync("() => document.querySelector('#view dl.facts') !== null", "the channel's stats");

        var html = await page.Page.GetContentAsync();
        var cookies = string.Join(";", (await page.Page.GetCookiesAsync()).Select(c => c.Name + "=" + c.Value));
        var storage = await page.Page.EvaluateExpressionAsync<string>("JSON.stringify(Object.entries(localStorage)) + JSON.stringify(Object.entries(sessionStorage))");
        Assert.Contains(page.RequestedUrls, url => url.Contains("/admin/webhook-connect/channels/demo/stats", StringComparison.Ordinal));
        foreach (var token in ConsoleStack.Tokens.Append(wrongToken))
        {
            Assert.DoesNotContain(page.RequestedUrls, url => url.Contains(token, StringComparison.Ordinal));
            Assert.DoesNotContain(token, html, StringComparison.Ordinal);
            Assert.DoesNotContain(token, cookies, StringComparison.Ordinal);
            Assert.DoesNotContain(token, storage, StringComparison.Ordinal);
            Assert.DoesNotContain(token, console.Stack.Admin.Output, StringComparison.Ordinal);
        }

        // The log is not silent: the sign-ins and the refusal are in it, without the token.
        Assert.Contains("/console/session", console.Stack.Admin.Output, StringComparison.Ordinal);
        Assert.Contains("ConsoleSignIn", console.Stack.Admin.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryConsoleResponseCarriesTheContentSecurityPolicyNosniffAndNoReferrerAndThePageHasNoInlineCode()
    {
        using var http = new HttpClient { BaseAddress = console.Stack.AdminHttp };
        foreach (var path in new[] { "/console/", "/console/console.js", "/console/console.css", "/console/session", Api + "/channels" })
        {
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(
                "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
                response.Headers.GetValues("Content-Security-Policy").Single());
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        }

        var index = await http.GetStringAsync(new Uri("/console/", UriKind.Relative));
        Assert.Empty(InlineCode().Matches(index));
        Assert.Contains("<script type=\"module\" src=\"console.js\"></script>", index, StringComparison.Ordinal);

        // The page works under the policy: no violation reported while signing in and opening a channel.
        await using var page = await console.OpenAsync();
        await page.SignInAsync(ScenarioStack.AdminToken);
        await page.GoAsync("#/channels/demo");
        await page.UntilAsync("() => document.querySelector('#view dl.facts') !== null", "the channel's stats");
        Assert.DoesNotContain(page.ConsoleErrors, e => e.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase));
        // Everything the page loads comes from admin (data: URLs are chromium's own widgets, e.g. the date picker's icon).
        Assert.All(page.RequestedUrls.Where(url => !url.StartsWith("data:", StringComparison.Ordinal)), url => Assert.StartsWith(console.Stack.AdminHttp.ToString(), url, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AChangeThroughTheSessionWithoutTheCsrfHeaderIsRefused403AndChangesNothing()
    {
        await using var page = await console.OpenAsync();
        await page.SignInAsync(ScenarioStack.AdminToken);

        Assert.Equal(403, await page.FetchStatusAsync("POST", $"{Api}/channels/demo/pause", withCsrf: false));
        Assert.False(await PausedAsync());
        Assert.Equal(403, await page.FetchStatusAsync("DELETE", "/console/session", withCsrf: false));

        // The same session with the header may change things: the refusal above was the missing header.
        Assert.Equal(200, await page.FetchStatusAsync("POST", $"{Api}/channels/demo/pause", withCsrf: true));
        Assert.True(await PausedAsync());
        Assert.Equal(200, await page.FetchStatusAsync("POST", $"{Api}/channels/demo/resume", withCsrf: true));
        Assert.False(await PausedAsync());

        // A cross-site request carries the cookies (were SameSite lax) but cannot read the CSRF cookie to copy it.
        var cookies = await page.Page.GetCookiesAsync();
        using var http = new HttpClient { BaseAddress = console.Stack.AdminHttp };
        using var forged = new HttpRequestMessage(HttpMethod.Post, new Uri($"{Api}/channels/demo/pause", UriKind.Relative)) { Content = new StringContent("{}") };
        forged.Headers.Add("Cookie", string.Join("; ", cookies.Select(c => $"{c.Name}={c.Value}")));
        forged.Headers.Add("X-CSRF-Token", "guessed");
        using var answer = await http.SendAsync(forged);
        Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
        Assert.Equal("PERMISSION_DENIED", JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.False(await PausedAsync());
    }

    [Fact]
    public async Task AReadOnlyTokenSeesNoWriteButtonsAndTheServerRefusesItsWrites()
    {
        var deadLetter = await DeadLetterAsync("{\"console\":\"read-only\"}");

        // Beside it, an admin sees the write buttons on the same page: their absence below is the token's doing.
        await using (var admin = await console.OpenAsync())
        {
            await admin.SignInAsync(ScenarioStack.AdminToken);
            await admin.GoAsync("#/channels/demo");
            await admin.VisibleAsync("#pause-resume", "the admin's pause button");
            await admin.VisibleAsync($"button[aria-label='Replay dead letter {deadLetter}']", "the admin's replay button");
        }

        await using var page = await console.OpenAsync();
        await page.SignInAsync(ConsoleStack.ReadOnlyToken);
        Assert.Contains("read-only", await page.TextAsync("#who"), StringComparison.Ordinal);
        await page.GoAsync("#/channels/demo");
        await page.UntilAsync("id => [...document.querySelectorAll('#dead-letters a')].some(a => a.innerText === id)", "the dead letter's row", deadLetter);
        await page.UntilAsync("() => document.querySelector('#view dl.facts') !== null", "the channel's stats");
        Assert.False(await page.ExistsAsync("#pause-resume"));
        Assert.False(await page.ExistsAsync("button.replay"));
        Assert.False(await page.ExistsAsync("#resend"));
        // Message contents need the contents permission: no body column for this token.
        Assert.False(await page.ExistsAsync("#view pre.preview"));
        await page.ScreenshotAsync("read-only");

        Assert.Equal(403, await page.FetchStatusAsync("POST", $"{Api}/channels/demo/pause", withCsrf: true));
        Assert.Equal(403, await page.FetchStatusAsync("POST", $"{Api}/channels/demo/dead-letters/replay", withCsrf: true));
        Assert.False(await PausedAsync());
    }

    [Fact]
    public async Task AWebhookBodyWithScriptAndImgMarkupIsShownAsTextAndNoScriptRuns()
    {
        const string body = "<script>window.__pwned = 1; alert('script')</script><img src=x onerror=\"window.__pwned = 2; alert('img')\"> dead";
        var deadLetter = await DeadLetterAsync(body);

        await using var page = await console.OpenAsync();
        await page.SignInAsync(ScenarioStack.AdminToken);
        await page.GoAsync("#/channels/demo");
        await page.UntilAsync(
            "id => [...document.querySelectorAll('#dead-letters tr')].some(r => r.innerText.includes(id) && r.querySelector('pre.preview'))",
            "the dead letter's row with its body", deadLetter);

        var shown = await page.Page.EvaluateFunctionAsync<string>(
            "id => [...document.querySelectorAll('#dead-letters tr')].find(r => r.innerText.includes(id)).querySelector('pre.preview').textContent", deadLetter);
        Assert.Equal(body, shown);
        Assert.Equal(0, await page.Page.EvaluateExpressionAsync<int>("document.querySelectorAll('#view img, #view script').length"));
        Assert.Equal("undefined", await page.Page.EvaluateExpressionAsync<string>("typeof window.__pwned"));
        Assert.Empty(page.Dialogs);
        await page.ScreenshotAsync("markup-as-text");
    }

    [Fact]
    public async Task ReplayingADeadLetterWithItsButtonDeliversItAgainAndEmptiesItsRow()
    {
        var deadLetter = await DeadLetterAsync("{\"console\":\"replay me\"}");
        console.Target.Answer = _ => new TargetAnswer(200);

        await using var page = await console.OpenAsync();
        await page.SignInAsync(ScenarioStack.AdminToken);
        await page.GoAsync("#/channels/demo");
        var replay = $"button[aria-label='Replay dead letter {deadLetter}']";
        await page.VisibleAsync(replay, "the dead letter's replay button");
        await page.Page.ClickAsync(replay);

        await page.UntilAsync("id => document.querySelector('#status').innerText === `Dead letter ${id} queued again.`", "the replay's confirmation", deadLetter);
        await Eventually.UntilAsync(() => console.Target.For(deadLetter).Count == 2, ConsoleStack.Patience, "the replayed dead letter delivered a second time");
        await page.UntilAsync("id => ![...document.querySelectorAll('#dead-letters a')].some(a => a.innerText === id)", "the dead letter's row gone", deadLetter);
        // A replayed dead letter starts its attempts again at 1 (message.proto, Message.attempt).
        Assert.Equal([1, 1], console.Target.For(deadLetter).Select(r => r.Attempt));
    }

    [Fact]
    public async Task TheKeyboardReachesTheSignInFormTheChannelLinkAndThePauseButtonWithAVisibleFocus()
    {
        await using var page = await console.OpenAsync();
        await page.Page.EvaluateExpressionAsync("document.activeElement.blur()");
        await page.TabToAsync("#token");
        await page.Page.Keyboard.TypeAsync(ScenarioStack.AdminToken);
        await page.TabToAsync("#signin button[type=submit]");
        await Task.WhenAll(page.Page.WaitForNavigationAsync(), page.Page.Keyboard.PressAsync(Key.Enter));
        await page.VisibleAsync("#who", "the signed-in line");

        await page.VisibleAsync("#view a[href='#/channels/demo']", "the demo channel's link");
        await page.TabToAsync("#view a[href='#/channels/demo']");
        await page.Page.Keyboard.PressAsync(Key.Enter);
        await page.VisibleAsync("#pause-resume", "the pause button");
        await page.TabToAsync("#pause-resume");
        Assert.NotEqual("none", await page.Page.EvaluateExpressionAsync<string>("getComputedStyle(document.activeElement).outlineStyle"));
        await page.ScreenshotAsync("keyboard-focus");

        try
        {
            await page.Page.Keyboard.PressAsync(Key.Enter);
            await Eventually.UntilAsync(PausedAsync, ConsoleStack.Patience, "the channel paused by the keyboard");
            await page.UntilAsync("() => document.querySelector('#pause-resume').innerText === 'Resume delivery'", "the resume button");
        }
        finally
        {
            await console.Stack.AdminClient.ResumeChannelAsync(new ResumeChannelRequest { Channel = ConsoleStack.Channel }, ScenarioStack.AdminHeaders);
        }
    }

    [Fact]
    public async Task SigningOutClearsTheSessionSoTheTwinAndTheConsoleAskForATokenAgain()
    {
        await using var page = await console.OpenAsync();
        await page.SignInAsync(ScenarioStack.AdminToken);
        Assert.Equal(200, await page.FetchStatusAsync("GET", $"{Api}/channels", withCsrf: false));

        await page.Page.ClickAsync("#sign-out");
        await page.VisibleAsync("#signin", "the sign-in form");
        Assert.Empty(await page.Page.GetCookiesAsync());
        Assert.Equal(401, await page.FetchStatusAsync("GET", $"{Api}/channels", withCsrf: false));
        await page.Page.ReloadAsync();
        await page.VisibleAsync("#signin", "the sign-in form after a reload");
    }

    private async Task<bool> PausedAsync() =>
        (await console.Stack.AdminClient.GetChannelAsync(new GetChannelRequest { Channel = ConsoleStack.Channel }, ScenarioStack.AdminHeaders)).Channel.Settings.Paused;

    /// <summary>Posts a webhook the target refuses with 400 (final: dead-lettered at once); returns its message id once
    /// it is in the dead-letter queue.</summary>
    private async Task<string> DeadLetterAsync(string body)
    {
        console.Target.Answer = r => Encoding.UTF8.GetString(r.Body) == body ? new TargetAnswer(400) : new TargetAnswer(200);
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/html");
        using var response = await console.Stack.Ingress.Http.PostAsync(new Uri("/webhook/demo", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("message_id").GetString()!;
        await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    await console.Stack.AdminClient.GetDeadLetterAsync(new GetDeadLetterRequest { Channel = ConsoleStack.Channel, MessageId = id }, ScenarioStack.AdminHeaders);
                    return true;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
                {
                    return false;
                }
            },
            ConsoleStack.Patience,
            $"message {id} in the dead-letter queue");
        return id;
    }

    /// <summary>A script element without src, a style element or attribute, or an on… handler attribute.</summary>
    [GeneratedRegex(@"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", RegexOptions.IgnoreCase)]
    private static partial Regex InlineCode();
}

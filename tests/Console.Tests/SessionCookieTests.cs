using System.Net;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Console.Tests;

/// <summary>The sign-in answer's cookies as a client sees them on the wire, over TLS and over plain HTTP.</summary>
public sealed class SessionCookieTests
{
    [Fact]
    public async Task OverTlsTheSessionCookiesAreSecureHttpOnlyStrictAndEndWithTheBrowserWhileOverPlainHttpTheyAreNotSecure()
    {
        using var pki = TestPki.Create();
        await using var tls = await ScenarioStack.StartAsync(tls: pki);
        var overTls = await SignInCookiesAsync(tls.AdminHttp, pki.Handler());
        await using var plain = await ScenarioStack.StartAsync();
        var overHttp = await SignInCookiesAsync(plain.AdminHttp, new SocketsHttpHandler());

        foreach (var (cookies, secure) in new[] { (overTls, true), (overHttp, false) })
        {
            var session = Attributes(cookies, "wc_console_session");
            var csrf = Attributes(cookies, "wc_console_csrf");
            Assert.Equal(["httponly", "path=/", "samesite=strict", .. (secure ? new[] { "secure" } : [])], session);
            Assert.Equal(["path=/", "samesite=strict", .. (secure ? new[] { "secure" } : [])], csrf);
        }
    }

    /// <summary>POSTs the sign-in form with the admin token; returns the Set-Cookie lines of its 303.</summary>
    private static async Task<string[]> SignInCookiesAsync(Uri admin, SocketsHttpHandler handler)
    {
        handler.AllowAutoRedirect = false;
        handler.UseCookies = false;
        using var http = new HttpClient(handler) { BaseAddress = admin };
        using var form = new FormUrlEncodedContent([new("token", ScenarioStack.AdminToken)]);
        using var response = await http.PostAsync(new Uri("/console/session", UriKind.Relative), form);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("/console/", response.Headers.Location?.ToString());
        return [.. response.Headers.GetValues("Set-Cookie")];
    }

    /// <summary>A cookie's attributes, lower-case and sorted (its value left out).</summary>
    private static string[] Attributes(string[] setCookies, string name) =>
        [.. setCookies.Single(c => c.StartsWith(name + "=", StringComparison.Ordinal)).Split(';').Skip(1).Select(a => a.Trim().ToLowerInvariant()).Order(StringComparer.Ordinal)];
}

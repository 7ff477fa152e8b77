using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.Extensions.FileProviders;
using WebhookConnect.Admin.Api;
using WebhookConnect.Admin.Authentication;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.ServiceDefaults.Grpc;

namespace WebhookConnect.Admin.OperatorConsole;

/// <summary>
/// The operator console (docs/console.md) on the JSON twin's port: the page's static files under <c>/console/</c>
/// (embedded in this assembly: nothing is loaded from elsewhere), sign-in and sign-out at <c>/console/session</c>, and
/// the security headers every response of that port carries. The page itself talks to the JSON twin with the
/// session cookie, through the twin's own authentication and permissions.
/// </summary>
public static class ConsoleEndpoints
{
    public const string Prefix = "/console";

    /// <summary>No inline script or style, nothing from another origin, no framing, forms post only here.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    public static void MapConsole(this WebApplication app, int httpPort)
    {
        app.UseWhen(http => http.Connection.LocalPort == httpPort, port => port.Use((http, next) =>
        {
            var headers = http.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            return next(http);
        }));

        var files = new ManifestEmbeddedFileProvider(typeof(ConsoleEndpoints).Assembly, "Console/wwwroot");
        app.UseWhen(
            http => http.Connection.LocalPort == httpPort && http.Request.Path.StartsWithSegments(Prefix, StringComparison.Ordinal),
            console => console
                .UseDefaultFiles(new DefaultFilesOptions { RequestPath = Prefix, FileProvider = files })
                .UseStaticFiles(new StaticFileOptions
                {
                    RequestPath = Prefix,
                    FileProvider = files,
                    // Revalidated on every load (ETag), so an upgraded admin serves its new page at once.
                    OnPrepareResponse = file => file.Context.Response.Headers.CacheControl = "no-cache",
                }));

        var session = app.MapGroup(Prefix + "/session").OnlyOnPort(httpPort);
        session.MapPost("", SignInAsync);
        session.MapGet("", WhoAmI);
        session.MapDelete("", SignOut);
    }

    /// <summary>
    /// The sign-in form's POST (<c>application/x-www-form-urlencoded</c>, field <c>token</c>): a configured token starts
    /// a session and goes back to the console; anything else goes back with <c>?signin=failed</c>. The token is never
    /// written anywhere: not in the redirect, not in a log line (a refusal is audited as caller <c>invalid</c>).
    /// </summary>
    private static async Task<IResult> SignInAsync(HttpContext http, AdminTokens tokens, ConsoleSessions sessions, AdminAudit audit)
    {
        NoStore(http);
        // A sign-in form on another site must not sign the browser in (login CSRF): browsers say where a request
        // came from in Sec-Fetch-Site, and in Origin (which is "null" under our Referrer-Policy: no-referrer); only our
        // own page, or the user typing the address, may post here.
        var site = http.Request.Headers["Sec-Fetch-Site"].ToString();
        var origin = http.Request.Headers.Origin.ToString();
        if (site is not ("" or "same-origin" or "none") || (origin is not ("" or "null") && origin != $"{http.Request.Scheme}://{http.Request.Host}"))
        {
            audit.Refused("none", "ConsoleSignIn", "", new Status(StatusCode.PermissionDenied, "cross-site sign-in"));
            return Error(StatusCode.PermissionDenied, "sign in from the console's own page");
        }

        var token = http.Request.HasFormContentType ? (await http.Request.ReadFormAsync(http.RequestAborted))["token"].ToString().Trim() : "";
        if (token.Length == 0 || tokens.Find(token) is null)
        {
            audit.Refused(token.Length == 0 ? "none" : "invalid", "ConsoleSignIn", "", new Status(StatusCode.Unauthenticated, "the admin token is not valid"));
            return SeeOther(http, Prefix + "/?signin=failed");
        }

        sessions.Start(http, token);
        return SeeOther(http, Prefix + "/");
    }

    /// <summary>303: the browser follows with a GET, so reloading the console never posts the form again.</summary>
    private static IResult SeeOther(HttpContext http, string location)
    {
        http.Response.StatusCode = StatusCodes.Status303SeeOther;
        http.Response.Headers.Location = location;
        return Results.Empty;
    }

    /// <summary>Who the session is and what the page may offer: the console hides what the token may not do.</summary>
    private static IResult WhoAmI(HttpContext http, ConsoleSessions sessions)
    {
        NoStore(http);
        if (sessions.Read(http) is not var (caller, _))
        {
            return Error(StatusCode.Unauthenticated, "not signed in");
        }

        return TwinJson.Result(TwinJson.Format(new JsonObject
        {
            ["caller"] = caller.Id,
            ["kind"] = caller.Kind switch { AdminTokenKind.Admin => "admin", AdminTokenKind.Contents => "contents", _ => "read-only" },
            ["can_write"] = caller.Holds(Permission.Write),
            ["can_read_contents"] = caller.Holds(Permission.ReadContents),
        }), StatusCodes.Status200OK);
    }

    /// <summary>Sign out: clears both cookies. Needs the CSRF header like any change (another site cannot sign the
    /// operator out).</summary>
    private static IResult SignOut(HttpContext http)
    {
        NoStore(http);
        var csrf = http.Request.Cookies[ConsoleSessions.CsrfCookie];
        if (csrf is null || !ConsoleSessions.CsrfSatisfied(http, csrf))
        {
            return Error(StatusCode.PermissionDenied, $"signing out needs the {ConsoleSessions.CsrfHeader} header with the value of the {ConsoleSessions.CsrfCookie} cookie");
        }

        ConsoleSessions.End(http);
        return Results.NoContent();
    }

    private static void NoStore(HttpContext http) => http.Response.Headers.CacheControl = "no-store";

    private static IResult Error(StatusCode code, string message) => TwinErrors.Result(new Status(code, message));
}

using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using WebhookConnect.Admin.Authentication;

// The folder is Console/, the namespace OperatorConsole: a namespace WebhookConnect.Admin.Console would hide
// System.Console from every file under WebhookConnect.Admin.
namespace WebhookConnect.Admin.OperatorConsole;

/// <summary>
/// The console's sign-in session (docs/console.md, "Session"), stateless so any admin replica accepts it:
/// <list type="bullet">
/// <item>the session cookie (<see cref="SessionCookie"/>: <c>HttpOnly</c>, <c>SameSite=Strict</c>, <c>Path=/</c>,
/// <c>Secure</c> over TLS, no <c>Max-Age</c>) holds <c>v1|expiry|csrf</c> and an HMAC-SHA256 of it keyed with the
/// session key of the token that signed in (<see cref="AdminTokens.FindBySessionKey"/>, derived from the token). The
/// token itself is never in the cookie: a copied cookie is useless after <see cref="Lifetime"/>, and useless at once
/// when its token is removed from the configuration.</item>
/// <item>the CSRF cookie (<see cref="CsrfCookie"/>, readable by the page's script) holds the same random csrf value;
/// every request through the session other than GET and HEAD must echo it in <see cref="CsrfHeader"/> (double
/// submit), compared with the signed value. SameSite=Strict already keeps the cookie off cross-site requests; the
/// header is the second lock.</item>
/// </list>
/// Hand-written rather than ASP.NET Core's cookie authentication and Data Protection: those need a key ring shared by
/// every replica (in Redis or a volume) that admin, stateless today, would have to own; a key derived from the token
/// gives the same protection with nothing to share, and revokes sessions with their token.
/// </summary>
public sealed class ConsoleSessions(AdminTokens tokens, TimeProvider time, IOptions<AdminOptions> options)
{
    public const string SessionCookie = "wc_console_session";
    public const string CsrfCookie = "wc_console_csrf";
    public const string CsrfHeader = "X-CSRF-Token";

    /// <summary>How long a sign-in lasts at most (the browser also drops the cookie when it closes).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    private readonly int _httpPort = options.Value.HttpPort;

    /// <summary>A new session for <paramref name="token"/> (already checked to be a configured token): sets both
    /// cookies on the response.</summary>
    public void Start(HttpContext http, string token)
    {
        var csrf = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var expires = time.GetUtcNow().Add(Lifetime).ToUnixTimeSeconds();
        var payload = string.Create(CultureInfo.InvariantCulture, $"v1|{expires}|{csrf}");
        var mac = HMACSHA256.HashData(AdminTokens.SessionKey(token), Encoding.UTF8.GetBytes(payload));
        http.Response.Cookies.Append(SessionCookie, Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload)) + "." + Base64Url.EncodeToString(mac), Cookie(http, httpOnly: true));
        http.Response.Cookies.Append(CsrfCookie, csrf, Cookie(http, httpOnly: false));
    }

    /// <summary>Clears both cookies (sign out).</summary>
    public static void End(HttpContext http)
    {
        http.Response.Cookies.Delete(SessionCookie, Cookie(http, httpOnly: true));
        http.Response.Cookies.Delete(CsrfCookie, Cookie(http, httpOnly: false));
    }

    /// <summary>Whether the request carries a session cookie the twin may consider (on the HTTP port only: browsers
    /// send cookies to every port of the host, and gRPC callers authenticate with their token).</summary>
    public bool Offered(HttpContext http) =>
        http.Connection.LocalPort == _httpPort && http.Request.Cookies.ContainsKey(SessionCookie);

    /// <summary>The signed-in caller and the session's csrf value, or null when the cookie is missing, forged,
    /// expired, or its token is no longer configured.</summary>
    public (AdminCaller Caller, string Csrf)? Read(HttpContext http)
    {
        if (!Offered(http) || http.Request.Cookies[SessionCookie] is not { } cookie)
        {
            return null;
        }

        var dot = cookie.IndexOf('.', StringComparison.Ordinal);
        byte[] payloadBytes, mac;
        try
        {
            payloadBytes = Base64Url.DecodeFromChars(cookie.AsSpan(0, Math.Max(dot, 0)));
            mac = Base64Url.DecodeFromChars(cookie.AsSpan(dot + 1));
        }
        catch (FormatException)
        {
            return null;
        }

        var parts = Encoding.UTF8.GetString(payloadBytes).Split('|');
        if (dot <= 0 || parts.Length != 3 || parts[0] != "v1"
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var expires)
            || time.GetUtcNow().ToUnixTimeSeconds() >= expires)
        {
            return null;
        }

        var caller = tokens.FindBySessionKey(key => CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(key, payloadBytes), mac));
        return caller is null ? null : (caller, parts[2]);
    }

    /// <summary>True for a request that needs no CSRF header (GET, HEAD), or whose header matches the session's value.</summary>
    public static bool CsrfSatisfied(HttpContext http, string csrf)
    {
        if (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
        {
            return true;
        }

        var sent = http.Request.Headers[CsrfHeader].ToString();
        return sent.Length > 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sent), Encoding.UTF8.GetBytes(csrf));
    }

    private static CookieOptions Cookie(HttpContext http, bool httpOnly) => new()
    {
        HttpOnly = httpOnly,
        SameSite = SameSiteMode.Strict,
        Secure = http.Request.IsHttps,
        Path = "/",
        IsEssential = true,
    };
}

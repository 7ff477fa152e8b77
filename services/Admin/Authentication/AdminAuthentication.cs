using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Admin.OperatorConsole;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.ServiceDefaults.Grpc;

namespace WebhookConnect.Admin.Authentication;

/// <summary>
/// Admin authentication (SPEC §8): every AdminService call carries <c>authorization: Bearer &lt;token&gt;</c>,
/// compared in constant time against the configured tokens (<see cref="AdminTokens"/>); the permission a call needs
/// comes from admin.proto (<see cref="AdminPermissions"/>) and the token's kind must hold it (PERMISSION_DENIED
/// naming the permission otherwise). Health and reflection need no token. gRPC calls are checked by
/// <see cref="AdminAuthorizationInterceptor"/>, attached to the service itself, and the JSON twin calls
/// <see cref="Authenticate"/> and <see cref="Authorize"/> per route, so no handler can forget the check. Every
/// refusal is audited. On the JSON twin's port a request without an <c>authorization</c> header may instead carry the
/// console's session cookie (<see cref="ConsoleSessions"/>, docs/console.md); a change through it also needs the CSRF
/// header.
/// </summary>
public sealed class AdminAuthentication(AdminTokens tokens, AdminAudit audit, ConsoleSessions sessions)
{
    /// <summary>The caller (<see cref="AdminCaller"/>), set for authenticated calls.</summary>
    public const string CallerItem = "webhookconnect.admin.caller";

    /// <summary>
    /// Who is calling: the caller (also recorded in the request's items), or null with <paramref name="refusal"/>
    /// UNAUTHENTICATED.
    /// </summary>
    public AdminCaller? Authenticate(HttpContext http, string method, string channel, out Status refusal)
    {
        var header = http.Request.Headers.Authorization.ToString();
        if (header.Length == 0 && sessions.Offered(http))
        {
            return FromSession(http, method, channel, out refusal);
        }

        var presented = BearerToken.From(header);
        var caller = presented is null ? null : tokens.Find(presented);
        if (caller is null)
        {
            refusal = presented is null
                ? new Status(StatusCode.Unauthenticated, "missing admin token: send 'authorization: Bearer <admin token>'")
                : new Status(StatusCode.Unauthenticated, "the admin token is not valid");
            audit.Refused(presented is null ? "none" : "invalid", method, channel, refusal);
            return null;
        }

        http.Items[CallerItem] = caller;
        refusal = Status.DefaultSuccess;
        return caller;
    }

    private AdminCaller? FromSession(HttpContext http, string method, string channel, out Status refusal)
    {
        if (sessions.Read(http) is not var (caller, csrf))
        {
            refusal = new Status(StatusCode.Unauthenticated, "the console session is not valid (expired, signed out, or its token was removed): sign in again");
            audit.Refused("session", method, channel, refusal);
            return null;
        }

        if (!ConsoleSessions.CsrfSatisfied(http, csrf))
        {
            refusal = new Status(StatusCode.PermissionDenied, $"a change through the console session needs the {ConsoleSessions.CsrfHeader} header with the value of the {ConsoleSessions.CsrfCookie} cookie");
            audit.Refused(caller.Id, method, channel, refusal);
            return null;
        }

        http.Items[CallerItem] = caller;
        refusal = Status.DefaultSuccess;
        return caller;
    }

    /// <summary>Whether <paramref name="caller"/> may make this call: null when allowed, else PERMISSION_DENIED.</summary>
    public Status? Authorize(AdminCaller caller, string method, IMessage? request)
    {
        var needed = AdminPermissions.For(method, request);
        if (caller.Holds(needed))
        {
            return null;
        }

        var why = needed == Permission.ReadContents && AdminPermissions.Of(method) == Permission.Read
            ? " (" + AdminPermissions.ContentsSwitchesSet(method, request) + " asks for message contents)"
            : "";
        var refusal = new Status(StatusCode.PermissionDenied, $"{method} needs the '{AdminPermissions.Name(needed)}' permission{why}, which a {KindName(caller.Kind)} token does not have");
        audit.Refused(caller.Id, method, Channel(request), refusal);
        return refusal;
    }

    /// <summary>Both checks, for a call whose request is at hand (gRPC).</summary>
    public Status? Check(HttpContext http, string method, IMessage request)
    {
        var caller = Authenticate(http, method, Channel(request), out var refusal);
        return caller is null ? refusal : Authorize(caller, method, request);
    }

    /// <summary>The request's <c>channel</c> field, or empty.</summary>
    public static string Channel(IMessage? request) =>
        request?.Descriptor.FindFieldByName("channel")?.Accessor.GetValue(request) as string ?? "";

    private static string KindName(AdminTokenKind kind) => kind switch
    {
        AdminTokenKind.Admin => "admin",
        AdminTokenKind.Contents => "contents",
        _ => "read-only",
    };
}

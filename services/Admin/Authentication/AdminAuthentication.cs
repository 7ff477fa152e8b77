using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.ServiceDefaults.Grpc;

namespace WebhookConnect.Admin.Authentication;

/// <summary>
/// Admin authentication (SPEC §8): every AdminService call carries <c>authorization: Bearer &lt;admin token&gt;</c>,
/// compared in constant time against the configured tokens; read-only tokens may call only the read methods
/// (PERMISSION_DENIED otherwise). Health and reflection need no token. gRPC calls are checked by
/// <see cref="AdminAuthorizationInterceptor"/>, attached to the service itself, and the JSON twin calls
/// <see cref="Authorize"/> per route, so no handler can forget the check.
/// </summary>
public sealed partial class AdminAuthentication
{
    /// <summary>Methods a read-only token may call (admin.proto).</summary>
    private static readonly HashSet<string> ReadMethods = new(StringComparer.Ordinal)
    {
        "GetChannel", "ListChannels", "ListConnections", "GetChannelStats", "GetOverview", "ListDeadLetters", "GetDeadLetter", "PeekMessages",
    };

    private readonly List<(byte[] Hash, bool ReadOnly, string Id)> _tokens = [];
    private readonly ILogger<AdminAuthentication> _logger;

    public AdminAuthentication(IOptions<AdminOptions> options, ILogger<AdminAuthentication> logger)
    {
        _logger = logger;
        var settings = options.Value;
        Add(AdminOptions.Split(settings.Tokens), readOnly: false);
        Add(settings.TokenFile.Length > 0 ? AdminOptions.Split(File.ReadAllText(settings.TokenFile)) : [], readOnly: false);
        Add(AdminOptions.Split(settings.ReadOnlyTokens), readOnly: true);
        Add(settings.ReadOnlyTokenFile.Length > 0 ? AdminOptions.Split(File.ReadAllText(settings.ReadOnlyTokenFile)) : [], readOnly: true);
    }

    /// <summary>The caller's token id (a short hash prefix, safe to log), set for authenticated calls.</summary>
    public const string CallerItem = "webhookconnect.admin.caller";

    /// <summary>
    /// Checks the request's bearer token for <paramref name="method"/> (an AdminService method name). Returns null and
    /// records the caller when allowed, otherwise the refusal (UNAUTHENTICATED or PERMISSION_DENIED). Both transports
    /// use this one check.
    /// </summary>
    public Status? Authorize(HttpContext http, string method)
    {
        var presented = BearerToken.From(http.Request.Headers.Authorization.ToString());
        if (presented is null)
        {
            return new Status(StatusCode.Unauthenticated, "missing admin token: send 'authorization: Bearer <admin token>'");
        }

        var match = Find(presented);
        if (match is null)
        {
            LogRefused(_logger, method);
            return new Status(StatusCode.Unauthenticated, "the admin token is not valid");
        }

        if (match.Value.ReadOnly && !ReadMethods.Contains(method))
        {
            return new Status(StatusCode.PermissionDenied, $"a read-only admin token may not call {method}");
        }

        http.Items[CallerItem] = match.Value.Id;
        return null;
    }

    private (bool ReadOnly, string Id)? Find(string presented)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        (bool, string)? found = null;
        // Every token is compared, so the time taken does not tell which one (if any) matched.
        foreach (var (expected, readOnly, id) in _tokens)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, expected) && found is null)
            {
                found = (readOnly, id);
            }
        }

        return found;
    }

    private void Add(IEnumerable<string> tokens, bool readOnly)
    {
        foreach (var token in tokens)
        {
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
            _tokens.Add((hash, readOnly, (readOnly ? "ro-" : "rw-") + Convert.ToHexStringLower(hash)[..8]));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused an admin call to {Method}: invalid token")]
    private static partial void LogRefused(ILogger logger, string method);
}

using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Grpc.Server;

namespace WebhookConnect.QueueManager.Publishing;

/// <summary>
/// Guards the internal APIs (PublishService, QueueAdminService) with the shared internal token when one is
/// configured: one check in front of both services, so no handler can forget it. Connect, health and reflection
/// are not affected.
/// </summary>
public sealed class InternalAuthentication
{
    private static readonly string[] GuardedPrefixes =
    [
        "/" + Contracts.V1.PublishService.Descriptor.FullName + "/",
        "/" + Contracts.Queue.V1.QueueAdminService.Descriptor.FullName + "/",
    ];

    private readonly byte[]? _expectedHash;

    public InternalAuthentication(IOptions<QueueManagerOptions> options)
    {
        var configured = options.Value;
        var token = configured.InternalTokenFile.Length > 0 ? File.ReadAllText(configured.InternalTokenFile).Trim() : configured.InternalToken;
        _expectedHash = token.Length == 0 ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    public bool Enabled => _expectedHash is not null;

    public async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        if (_expectedHash is null || !IsGuarded(http.Request.Path.Value))
        {
            await next(http);
            return;
        }

        var presented = BearerToken.From(http.Request.Headers.Authorization.ToString()) ?? "";
        // Hash both sides so the comparison is constant time whatever the lengths.
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), _expectedHash))
        {
            await GrpcHttpResponses.WriteStatusAsync(http, new Status(
                StatusCode.Unauthenticated,
                presented.Length == 0
                    ? "this internal API needs 'authorization: Bearer <internal token>' (QueueManager:InternalToken)"
                    : "the internal token is not valid"));
            return;
        }

        await next(http);
    }

    private static bool IsGuarded(string? path)
    {
        if (path is null)
        {
            return false;
        }

        foreach (var prefix in GuardedPrefixes)
        {
            // Ignoring case, as routing does; the transport also refuses a differently cased gRPC path.
            if (path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

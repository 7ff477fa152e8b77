namespace WebhookConnect.ServiceDefaults.Grpc;

/// <summary>Reads an <c>authorization: Bearer &lt;token&gt;</c> header or metadata value (scheme case-insensitive).</summary>
public static class BearerToken
{
    private const string Scheme = "Bearer ";

    /// <summary>The token, or null when the value is missing, uses another scheme, or carries no token.</summary>
    public static string? From(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var token = authorization[Scheme.Length..].Trim();
        return token.Length == 0 ? null : token;
    }

    /// <summary>
    /// A configured token: the trimmed content of <paramref name="tokenFile"/> (a mounted secret) when it is set,
    /// otherwise <paramref name="token"/> trimmed; empty when neither is set. Every service names its pair of settings
    /// this way (e.g. <c>QueueManager:InternalToken</c> / <c>InternalTokenFile</c>); the file's existence is checked
    /// by the options validation at start-up.
    /// </summary>
    public static string Configured(string token, string tokenFile) =>
        tokenFile.Length > 0 ? File.ReadAllText(tokenFile).Trim() : token.Trim();
}

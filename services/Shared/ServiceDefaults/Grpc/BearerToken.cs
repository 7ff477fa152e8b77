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
}

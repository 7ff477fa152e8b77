using WebhookConnect.Connector.Configuration;

namespace WebhookConnect.Connector.Streams;

/// <summary>
/// Reads a subscription's channel token. Called before every connection attempt, so a token file that an operator
/// fixes (or a rotated secret that Kubernetes remounts) is used on the next attempt without a restart.
/// </summary>
public static class TokenSource
{
    /// <exception cref="IOException">The token file cannot be read.</exception>
    /// <exception cref="InvalidOperationException">The token is empty or its variable is not set.</exception>
    public static string Read(SubscriptionOptions subscription)
    {
        var token = subscription switch
        {
            { Token.Length: > 0 } => subscription.Token,
            { TokenEnv.Length: > 0 } => Environment.GetEnvironmentVariable(subscription.TokenEnv) ?? "",
            _ => File.ReadAllText(subscription.TokenFile),
        };
        token = token.Trim();
        return token.Length > 0 ? token : throw new InvalidOperationException("the channel token is empty");
    }
}

using System.Security.Cryptography;
using System.Text;
using WebhookConnect.Contracts.Admin.V1;

namespace WebhookConnect.QueueManager.Channels;

/// <summary>Connector tokens: generated, stored as SHA-256 hashes only, compared in constant time.</summary>
public static class ChannelTokens
{
    public static string Generate() => "wct_" + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>Lower-case hex SHA-256 of the token, as stored in the config hash.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Whether <paramref name="presentedToken"/> is the current token, or the previous one before its
    /// grace period ends.</summary>
    public static bool Matches(ChannelConfig config, string presentedToken, DateTimeOffset now, out TokenGeneration generation) =>
        MatchesHash(config, Hash(presentedToken), now, out generation);

    /// <summary>As <see cref="Matches"/>, for a token already hashed (streams keep only the hash).</summary>
    public static bool MatchesHash(ChannelConfig config, string presentedHash, DateTimeOffset now, out TokenGeneration generation)
    {
        var presented = Encoding.ASCII.GetBytes(presentedHash);
        if (FixedTimeEquals(presented, config.TokenHash))
        {
            generation = TokenGeneration.Current;
            return true;
        }

        if (config.PreviousTokenExpiresAt is { } expires && now < expires && FixedTimeEquals(presented, config.PreviousTokenHash))
        {
            generation = TokenGeneration.Previous;
            return true;
        }

        generation = TokenGeneration.Unspecified;
        return false;
    }

    private static bool FixedTimeEquals(byte[] presented, string storedHash) =>
        storedHash.Length == presented.Length && CryptographicOperations.FixedTimeEquals(presented, Encoding.ASCII.GetBytes(storedHash));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

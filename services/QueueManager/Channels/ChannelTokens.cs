using System.Security.Cryptography;
using System.Text;
using WebhookConnect.Contracts.Admin.V1;

namespace WebhookConnect.QueueManager.Channels;

/// <summary>
/// Connector tokens (SPEC §3): generated from 32 random bytes, stored only as a lower-case hex SHA-256, compared in
/// constant time. The Connect stream authenticates with <see cref="Matches"/>.
/// </summary>
public static class ChannelTokens
{
    public const string Prefix = "wct_";

    /// <summary>A new token: <c>wct_</c> + base64url of 32 random bytes (43 characters, no padding).</summary>
    public static string Generate() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>Lower-case hex SHA-256 of the token's UTF-8 bytes, the form kept in <see cref="ChannelFields.TokenHash"/>.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>
    /// Whether <paramref name="presentedToken"/> authenticates for the channel: the current token always, the
    /// previous one only before <see cref="ChannelConfig.PreviousTokenExpiresAt"/>. Both hashes are compared in
    /// constant time, so the answer's timing does not depend on which (if any) matched or on how much of it did.
    /// </summary>
    public static bool Matches(ChannelConfig config, string presentedToken, DateTimeOffset now, out TokenGeneration generation)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(presentedToken);
        Span<byte> presented = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presentedToken), presented);
        return MatchesHash(config, presented, now, out generation);
    }

    /// <summary>As <see cref="Matches"/>, for a token kept only as its hex hash (an open stream re-checks its token
    /// when the channel's tokens change, without keeping the token itself).</summary>
    public static bool MatchesHash(ChannelConfig config, string presentedHashHex, DateTimeOffset now, out TokenGeneration generation)
    {
        Span<byte> presented = stackalloc byte[SHA256.HashSizeInBytes];
        if (Convert.FromHexString(presentedHashHex, presented, out _, out var written) != System.Buffers.OperationStatus.Done
            || written != SHA256.HashSizeInBytes)
        {
            generation = TokenGeneration.Unspecified;
            return false;
        }

        return MatchesHash(config, presented, now, out generation);
    }

    private static bool MatchesHash(ChannelConfig config, ReadOnlySpan<byte> presented, DateTimeOffset now, out TokenGeneration generation)
    {
        var current = HashEquals(config.TokenHash, presented);
        var previous = HashEquals(config.PreviousTokenHash, presented)
            && config.PreviousTokenExpiresAt is { } expiresAt && now < expiresAt;

        generation = current ? TokenGeneration.Current : previous ? TokenGeneration.Previous : TokenGeneration.Unspecified;
        return current || previous;
    }

    private static bool HashEquals(string storedHex, ReadOnlySpan<byte> presented)
    {
        Span<byte> stored = stackalloc byte[SHA256.HashSizeInBytes];
        // A missing or malformed stored hash never matches, but is still compared so the timing stays the same.
        var valid = Convert.FromHexString(storedHex, stored, out _, out var written) == System.Buffers.OperationStatus.Done
            && written == SHA256.HashSizeInBytes;
        return CryptographicOperations.FixedTimeEquals(stored, presented) && valid;
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

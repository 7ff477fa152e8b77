using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Ingress.Verification;

/// <summary>The primitives every preset shares: HMACs, decoding a presented signature, constant-time comparison.</summary>
internal static class Signatures
{
    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>HMAC of <paramref name="prefix"/> followed by <paramref name="body"/> (the signed-payload schemes
    /// prepend a timestamp or an id), without concatenating them into a new buffer.</summary>
    public static byte[] Hmac(HmacAlgorithm algorithm, byte[] key, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(Name(algorithm), key);
        hmac.AppendData(prefix);
        hmac.AppendData(body);
        return hmac.GetHashAndReset();
    }

    /// <summary>Constant-time equality of a presented hex signature (any case) with the expected bytes.</summary>
    public static bool HexEquals(ReadOnlySpan<char> presented, ReadOnlySpan<byte> expected)
    {
        if (presented.Length != expected.Length * 2)
        {
            return false;
        }

        Span<byte> decoded = stackalloc byte[64];
        decoded = decoded[..expected.Length];
        return Convert.FromHexString(presented, decoded, out _, out var written) == OperationStatus.Done
            && written == expected.Length
            && CryptographicOperations.FixedTimeEquals(decoded, expected);
    }

    /// <summary>Constant-time equality of a presented base64 signature with the expected bytes.</summary>
    public static bool Base64Equals(ReadOnlySpan<char> presented, ReadOnlySpan<byte> expected)
    {
        Span<byte> decoded = stackalloc byte[96];
        return Convert.TryFromBase64Chars(presented.Trim(), decoded, out var written)
            && written == expected.Length
            && CryptographicOperations.FixedTimeEquals(decoded[..written], expected);
    }

    /// <summary>Constant-time equality of two texts (tokens, passwords) compared as UTF-8 bytes. The length of the
    /// expected value may leak; its content does not.</summary>
    public static bool TextEquals(string? presented, byte[] expected)
    {
        if (presented is null)
        {
            return false;
        }

        var bytes = Encoding.UTF8.GetBytes(presented);
        return CryptographicOperations.FixedTimeEquals(bytes, expected);
    }

    /// <summary>Parses a Unix timestamp in seconds and checks it is within <paramref name="tolerance"/> of now.</summary>
    public static bool Fresh(ReadOnlySpan<char> unixSeconds, DateTimeOffset now, TimeSpan tolerance, out long timestamp)
    {
        if (!long.TryParse(unixSeconds, NumberStyles.None, CultureInfo.InvariantCulture, out timestamp))
        {
            return false;
        }

        var distance = Math.Abs(now.ToUnixTimeSeconds() - timestamp);
        return distance <= (long)tolerance.TotalSeconds;
    }

    /// <summary>The last moment a request signed at <paramref name="unixSeconds"/> passes <see cref="Fresh"/>.</summary>
    public static DateTimeOffset Until(long unixSeconds, TimeSpan tolerance) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds) + tolerance;

    public static TimeSpan Tolerance(Google.Protobuf.WellKnownTypes.Duration? configured) =>
        configured is null || configured.ToTimeSpan() <= TimeSpan.Zero ? TimeSpan.FromMinutes(5) : configured.ToTimeSpan();

    public static int Length(HmacAlgorithm algorithm) => algorithm switch
    {
        HmacAlgorithm.Sha1 => 20,
        HmacAlgorithm.Sha512 => 64,
        _ => 32,
    };

    private static HashAlgorithmName Name(HmacAlgorithm algorithm) => algorithm switch
    {
        HmacAlgorithm.Sha1 => HashAlgorithmName.SHA1,
        HmacAlgorithm.Sha512 => HashAlgorithmName.SHA512,
        _ => HashAlgorithmName.SHA256,
    };
}

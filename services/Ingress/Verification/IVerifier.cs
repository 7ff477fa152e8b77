using Microsoft.AspNetCore.Http;

namespace WebhookConnect.Ingress.Verification;

/// <summary>
/// Checks that a request comes from the sender (SPEC §5). Implementations compare in constant time and say only
/// yes or no: the sender learns nothing from a refusal (401 without detail).
/// </summary>
public interface IVerifier
{
    /// <param name="headers">The request headers (case-insensitive names).</param>
    /// <param name="body">The raw body, byte for byte.</param>
    /// <param name="now">The current time, for schemes with a timestamp tolerance.</param>
    bool Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body, DateTimeOffset now);
}

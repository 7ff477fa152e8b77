using Microsoft.AspNetCore.Http;

namespace WebhookConnect.Ingress.Verification;

/// <summary>
/// Checks that a request comes from the sender (SPEC §5). Implementations compare in constant time and say only
/// yes or no to the sender: it learns nothing from a refusal (401 without detail). On success the verdict also says
/// what the check relied on, for what follows it: the credential header not to store, the signature that identifies
/// a replay, the id the signature covers.
/// </summary>
public interface IVerifier
{
    /// <param name="headers">The request headers (case-insensitive names).</param>
    /// <param name="body">The raw body, byte for byte.</param>
    /// <param name="now">The current time, for schemes with a timestamp tolerance.</param>
    Verdict Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body, DateTimeOffset now);
}

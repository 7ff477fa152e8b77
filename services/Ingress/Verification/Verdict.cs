namespace WebhookConnect.Ingress.Verification;

/// <summary>The outcome of <see cref="IVerifier.Verify"/>. <c>default</c> is a refusal.</summary>
public readonly record struct Verdict
{
    /// <summary>A refusal: the request is answered 401.</summary>
    public static Verdict Refused => default;

    /// <summary>True when the request comes from the sender.</summary>
    public bool Verified { get; init; }

    /// <summary>
    /// The header that carried a static credential (<c>bearer</c>, <c>basic</c>): it authorises any body for as long
    /// as the secret lives, so it is not stored with the message (docs/ingress.md, "What is not stored"). Null for
    /// the signing presets, whose signature headers vouch for one body only and stay for re-verification.
    /// </summary>
    public string? CredentialHeader { get; init; }

    /// <summary>The signature (MAC) the preset computed over the signed content, for signing presets: it names that
    /// content whatever way the sender spelt its signature header (case, extra candidates), so a re-sent request
    /// is recognised (<see cref="DuplicateKeys"/>). Null for <c>bearer</c> and <c>basic</c>.</summary>
    public byte[]? Signature { get; init; }

    /// <summary>The last moment (by ingress' clock) at which a copy of this request would still verify: the signed
    /// timestamp plus the tolerance. Null for schemes without a timestamp, which verify for ever.</summary>
    public DateTimeOffset? VerifiableUntil { get; init; }

    /// <summary>An id the signature covers (Standard Webhooks' <c>webhook-id</c>): the idempotency key when the
    /// endpoint names no idempotency header.</summary>
    public string? SignedId { get; init; }

    /// <summary>A verified static credential carried in <paramref name="header"/>.</summary>
    public static Verdict Credential(string header) => new() { Verified = true, CredentialHeader = header };

    /// <summary>A verified signature; <paramref name="verifiableUntil"/> null for schemes without a timestamp.</summary>
    public static Verdict Signed(byte[] signature, DateTimeOffset? verifiableUntil, string? signedId = null) =>
        new() { Verified = true, Signature = signature, VerifiableUntil = verifiableUntil, SignedId = signedId };
}

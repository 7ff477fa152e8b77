using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Ingress.Verification;

/// <summary>Builds the verifier of an endpoint's <see cref="Verification"/> preset (null for <c>none</c>).</summary>
public static class Presets
{
    public static IVerifier? Create(Contracts.V1.Verification? verification) => verification?.PresetCase switch
    {
        // None: an endpoint stored before presets had to be chosen; NoVerification: `none`, chosen explicitly.
        null or Contracts.V1.Verification.PresetOneofCase.None or Contracts.V1.Verification.PresetOneofCase.NoVerification => null,
        Contracts.V1.Verification.PresetOneofCase.Bearer => new BearerVerifier(verification.Bearer),
        Contracts.V1.Verification.PresetOneofCase.Basic => new BasicVerifier(verification.Basic),
        Contracts.V1.Verification.PresetOneofCase.Hmac => new HmacVerifier(verification.Hmac),
        // GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
        Contracts.V1.Verification.PresetOneofCase.Github => new HmacVerifier(new Contracts.V1.Verification.Types.Hmac
        {
            Header = "X-Hub-Signature-256",
            Algorithm = HmacAlgorithm.Sha256,
            Encoding = SignatureEncoding.Hex,
            Prefix = "sha256=",
            Secret = verification.Github.Secret,
        }),
        // Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`.
        Contracts.V1.Verification.PresetOneofCase.Shopify => new HmacVerifier(new Contracts.V1.Verification.Types.Hmac
        {
            Header = "X-Shopify-Hmac-Sha256",
            Algorithm = HmacAlgorithm.Sha256,
            Encoding = SignatureEncoding.Base64,
            Secret = verification.Shopify.Secret,
        }),
        Contracts.V1.Verification.PresetOneofCase.Stripe => new StripeVerifier(verification.Stripe),
        Contracts.V1.Verification.PresetOneofCase.StandardWebhooks => new StandardWebhooksVerifier(verification.StandardWebhooks),
        Contracts.V1.Verification.PresetOneofCase.Slack => new SlackVerifier(verification.Slack),
        // A preset this build does not know refuses everything rather than letting everything in.
        _ => new RefuseAll(),
    };

    private sealed class RefuseAll : IVerifier
    {
        public Verdict Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body, DateTimeOffset now) => Verdict.Refused;
    }
}

/// <summary>A static token: <c>Authorization: Bearer &lt;token&gt;</c>, or the whole value of a named header. The header
/// is the credential, so it is not stored (<see cref="Verdict.CredentialHeader"/>).</summary>
public sealed class BearerVerifier(Contracts.V1.Verification.Types.Bearer config) : IVerifier
{
    private readonly byte[] _token = Signatures.Utf8(config.Token);
    private readonly string _header = config.Header;

    public Verdict Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        if (_header.Length > 0)
        {
            var values = headers[_header];
            return values.Count == 1 && Signatures.TextEquals(values[0], _token) ? Verdict.Credential(_header) : Verdict.Refused;
        }

        var authorization = headers.Authorization;
        return authorization.Count == 1 && Signatures.TextEquals(ServiceDefaults.Grpc.BearerToken.From(authorization[0]), _token)
            ? Verdict.Credential(HeaderNames.Authorization)
            : Verdict.Refused;
    }
}

/// <summary>HTTP Basic: <c>Authorization: Basic base64(username:password)</c>. The header is the credential, so it is
/// not stored (<see cref="Verdict.CredentialHeader"/>).</summary>
public sealed class BasicVerifier(Contracts.V1.Verification.Types.Basic config) : IVerifier
{
    private const string Scheme = "Basic ";
    private readonly byte[] _expected = Signatures.Utf8(config.Username + ":" + config.Password);

    public Verdict Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        var authorization = headers.Authorization;
        if (authorization.Count != 1 || authorization[0] is not { } value || !value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return Verdict.Refused;
        }

        Span<byte> decoded = stackalloc byte[1024];
        if (!Convert.TryFromBase64Chars(value.AsSpan(Scheme.Length).Trim(), decoded, out var written))
        {
            return Verdict.Refused;
        }

        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(decoded[..written], _expected)
            ? Verdict.Credential(HeaderNames.Authorization)
            : Verdict.Refused;
    }
}

/// <summary>Generic HMAC over the raw body: header value = prefix + hex or base64 of HMAC(secret, body).</summary>
public sealed class HmacVerifier(Contracts.V1.Verification.Types.Hmac config) : IVerifier
{
    private readonly byte[] _key = Signatures.Utf8(config.Secret);
    private readonly string _header = config.Header;
    private readonly string _prefix = config.Prefix;
    private readonly HmacAlgorithm _algorithm = config.Algorithm;
    private readonly bool _base64 = config.Encoding == SignatureEncoding.Base64;

    public Verdict Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        var values = headers[_header];
        if (values.Count != 1 || values[0] is not { } value || !value.StartsWith(_prefix, StringComparison.Ordinal))
        {
            return Verdict.Refused;
        }

        var presented = value.AsSpan(_prefix.Length).Trim();
        var expected = Signatures.Hmac(_algorithm, _key, [], body);
        var match = _base64 ? Signatures.Base64Equals(presented, expected) : Signatures.HexEquals(presented, expected);
        // No timestamp: the same body with the same signature verifies for ever.
        return match ? Verdict.Signed(expected, verifiableUntil: null) : Verdict.Refused;
    }
}

/// <summary>
/// Stripe: <c>Stripe-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "t.body"&gt;[,v1=…]</c>; any v1 may
/// match, other schemes (v0) are ignored, <c>t</c> must be within the tolerance (default 5 min).
/// </summary>
public sealed class StripeVerifier(Contracts.V1.Verification.Types.Stripe config) : IVerifier
{
    private readonly byte[] _key = Signatures.Utf8(config.Secret);
    private readonly TimeSpan _tolerance = Signatures.Tolerance(config.Tolerance);

    public Verdict Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        var values = headers["Stripe-Signature"];
        if (values.Count != 1 || values[0] is not { } header)
        {
            return Verdict.Refused;
        }

        string? timestamp = null;
        var signatures = new List<string>(2);
        foreach (var part in header.Split(','))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }

            var name = part.AsSpan(0, equals).Trim();
            var value = part[(equals + 1)..].Trim();
            if (name.SequenceEqual("t"))
            {
                timestamp = value;
            }
            else if (name.SequenceEqual("v1"))
            {
                signatures.Add(value);
            }
        }

        if (timestamp is null || signatures.Count == 0 || !Signatures.Fresh(timestamp, now, _tolerance, out var signedAt))
        {
            return Verdict.Refused;
        }

        var expected = Signatures.Hmac(HmacAlgorithm.Sha256, _key, Encoding.ASCII.GetBytes(timestamp + "."), body);
        var match = false;
        foreach (var signature in signatures)
        {
            // Every candidate is compared, so the time taken does not say which one matched.
            match |= Signatures.HexEquals(signature, expected);
        }

        return match ? Verdict.Signed(expected, Signatures.Until(signedAt, _tolerance)) : Verdict.Refused;
    }
}

/// <summary>
/// Standard Webhooks / Svix: <c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature: v1,&lt;base64
/// HMAC-SHA256 of "id.timestamp.body"&gt;</c> (several, space-separated; any may match). The secret is
/// <c>whsec_&lt;base64 key&gt;</c>. The <c>svix-*</c> header names are accepted too.
/// </summary>
public sealed class StandardWebhooksVerifier(Contracts.V1.Verification.Types.StandardWebhooks config) : IVerifier
{
    private readonly byte[]? _key = DecodeSecret(config.Secret);
    private readonly TimeSpan _tolerance = Signatures.Tolerance(config.Tolerance);

    public Verdict Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        var id = One(headers, "webhook-id") ?? One(headers, "svix-id");
        var timestamp = One(headers, "webhook-timestamp") ?? One(headers, "svix-timestamp");
        var signatures = One(headers, "webhook-signature") ?? One(headers, "svix-signature");
        if (_key is null || id is null || timestamp is null || signatures is null || !Signatures.Fresh(timestamp, now, _tolerance, out var signedAt))
        {
            return Verdict.Refused;
        }

        var expected = Signatures.Hmac(HmacAlgorithm.Sha256, _key, Encoding.UTF8.GetBytes(id + "." + timestamp + "."), body);
        var match = false;
        foreach (var candidate in signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (candidate.StartsWith("v1,", StringComparison.Ordinal))
            {
                match |= Signatures.Base64Equals(candidate.AsSpan(3), expected);
            }
        }

        // The id is signed, and stays the same on the sender's retries: the natural idempotency key.
        return match ? Verdict.Signed(expected, Signatures.Until(signedAt, _tolerance), signedId: id) : Verdict.Refused;
    }

    internal static byte[]? DecodeSecret(string secret)
    {
        var encoded = secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret[6..] : secret;
        try
        {
            return Convert.FromBase64String(encoded);
        }
        catch (FormatException)
        {
            // An undecodable secret verifies nothing (queue-manager validates secrets, so this is a safety net).
            return null;
        }
    }

    private static string? One(IHeaderDictionary headers, string name)
    {
        var values = headers[name];
        return values.Count == 1 ? values[0] : null;
    }
}

/// <summary>Slack: <c>X-Slack-Signature: v0=&lt;hex HMAC-SHA256 of "v0:timestamp:body"&gt;</c> with
/// <c>X-Slack-Request-Timestamp</c> within the tolerance (default 5 min).</summary>
public sealed class SlackVerifier(Contracts.V1.Verification.Types.Slack config) : IVerifier
{
    private readonly byte[] _key = Signatures.Utf8(config.Secret);
    private readonly TimeSpan _tolerance = Signatures.Tolerance(config.Tolerance);

    public Verdict Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        var timestamps = headers["X-Slack-Request-Timestamp"];
        var signatures = headers["X-Slack-Signature"];
        if (timestamps.Count != 1 || signatures.Count != 1 || timestamps[0] is not { } timestamp || signatures[0] is not { } signature
            || !signature.StartsWith("v0=", StringComparison.Ordinal) || !Signatures.Fresh(timestamp, now, _tolerance, out var signedAt))
        {
            return Verdict.Refused;
        }

        var expected = Signatures.Hmac(HmacAlgorithm.Sha256, _key, Encoding.ASCII.GetBytes("v0:" + timestamp + ":"), body);
        return Signatures.HexEquals(signature.AsSpan(3), expected) ? Verdict.Signed(expected, Signatures.Until(signedAt, _tolerance)) : Verdict.Refused;
    }
}

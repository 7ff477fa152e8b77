using System.Text;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Http;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Verification;
using SenderVerification = WebhookConnect.Contracts.V1.Verification;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// SPEC §5: each preset against the test vector its provider publishes, plus a tampered body, a wrong secret, a
/// stale timestamp and a missing header. These call the verifiers directly (pure functions of headers, body and
/// time); WebhookVerificationTests drives the same presets through the running service.
/// </summary>
public sealed class VerificationVectorTests
{
    // GitHub, "Validating webhook deliveries", section "Testing the webhook payload validation":
    // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    private const string GitHubSecret = "It's a Secret to Everybody";
    private const string GitHubPayload = "Hello, World!";
    private const string GitHubSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    // Standard Webhooks specification and reference libraries (Svix publishes the same example):
    // https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
    // https://docs.svix.com/receiving/verifying-payloads/how-manual
    private const string StandardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string StandardId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long StandardTimestamp = 1614265330;
    private const string StandardPayload = "{\"test\": 2432232314}";
    private const string StandardSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    // Slack, "Verifying requests from Slack", the worked example:
    // https://api.slack.com/authentication/verifying-requests-from-slack
    private const string SlackSecret = "8f742231b10e8888abcd99yyyzzz85a5";
    private const long SlackTimestamp = 1531420618;
    private const string SlackBody = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    private const string SlackSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    // Stripe documents the scheme (https://docs.stripe.com/webhooks#verify-manually: HMAC-SHA256 of "{t}.{body}"
    // with the endpoint secret, hex, in `Stripe-Signature: t=…,v1=…`) but publishes no fixed secret/payload pair.
    // This vector was computed outside .NET, with `printf '%s' '1492774577.{…}' | openssl dgst -sha256 -hmac
    // 'whsec_test_secret'`; the timestamp is the one in Stripe's example header.
    private const string StripeSecret = "whsec_test_secret";
    private const long StripeTimestamp = 1492774577;
    private const string StripePayload = "{\"id\":\"evt_test_webhook\",\"object\":\"event\"}";
    private const string StripeV1 = "88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a";

    // Shopify documents the scheme (https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook:
    // base64 HMAC-SHA256 of the raw body with the app's client secret) without a fixed vector. Computed with
    // `openssl dgst -sha256 -hmac 'test-webhook-secret' -binary | base64`; the same pair appears in SQLPage's tests.
    private const string ShopifySecret = "test-webhook-secret";
    private const string ShopifyPayload = "{\"id\":1234567890,\"email\":\"customer@example.com\",\"total_price\":\"123.45\"}";
    private const string ShopifyHmac = "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw=";

    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    [Fact]
    public void GitHubAcceptsItsPublishedVector()
    {
        var verifier = GitHub(GitHubSecret);

        Assert.True(verifier.Verify(Headers(("X-Hub-Signature-256", GitHubSignature)), Bytes(GitHubPayload), Now).Verified);
        // Hex is accepted in either case.
        Assert.True(verifier.Verify(Headers(("X-Hub-Signature-256", GitHubSignature.ToUpperInvariant().Replace("SHA256=", "sha256=", StringComparison.Ordinal))), Bytes(GitHubPayload), Now).Verified);
    }

    [Fact]
    public void GitHubRefusesATamperedBodyAWrongSecretAndAMissingHeader()
    {
        Assert.False(GitHub(GitHubSecret).Verify(Headers(("X-Hub-Signature-256", GitHubSignature)), Bytes("Hello, World?"), Now).Verified);
        Assert.False(GitHub("It's a secret to everybody").Verify(Headers(("X-Hub-Signature-256", GitHubSignature)), Bytes(GitHubPayload), Now).Verified);
        Assert.False(GitHub(GitHubSecret).Verify(Headers(), Bytes(GitHubPayload), Now).Verified);
        Assert.False(GitHub(GitHubSecret).Verify(Headers(("X-Hub-Signature-256", GitHubSignature[7..])), Bytes(GitHubPayload), Now).Verified);
        Assert.False(GitHub(GitHubSecret).Verify(Headers(("X-Hub-Signature-256", "sha256=zz")), Bytes(GitHubPayload), Now).Verified);
    }

    [Fact]
    public void StandardWebhooksAcceptsItsPublishedVectorAmongSeveralSignatures()
    {
        var at = DateTimeOffset.FromUnixTimeSeconds(StandardTimestamp);
        var verifier = Standard(StandardSecret);

        Assert.True(verifier.Verify(StandardHeaders(StandardSignature), Bytes(StandardPayload), at).Verified);
        Assert.True(verifier.Verify(StandardHeaders("v1,bm9wZQ== " + StandardSignature), Bytes(StandardPayload), at).Verified);
        // Svix sends the same scheme under svix-* names.
        Assert.True(verifier.Verify(Headers(("svix-id", StandardId), ("svix-timestamp", "1614265330"), ("svix-signature", StandardSignature)), Bytes(StandardPayload), at).Verified);
    }

    [Fact]
    public void StandardWebhooksRefusesATamperedBodyAWrongSecretAStaleTimestampAndAMissingHeader()
    {
        var at = DateTimeOffset.FromUnixTimeSeconds(StandardTimestamp);

        Assert.False(Standard(StandardSecret).Verify(StandardHeaders(StandardSignature), Bytes("{\"test\": 2432232315}"), at).Verified);
        Assert.False(Standard("whsec_" + Convert.ToBase64String(new byte[24])).Verify(StandardHeaders(StandardSignature), Bytes(StandardPayload), at).Verified);
        Assert.False(Standard(StandardSecret).Verify(StandardHeaders(StandardSignature), Bytes(StandardPayload), at.AddMinutes(5).AddSeconds(1)).Verified);
        Assert.False(Standard(StandardSecret).Verify(StandardHeaders(StandardSignature), Bytes(StandardPayload), at.AddMinutes(-6)).Verified);
        Assert.True(Standard(StandardSecret).Verify(StandardHeaders(StandardSignature), Bytes(StandardPayload), at.AddMinutes(5)).Verified);
        Assert.False(Standard(StandardSecret).Verify(Headers(("webhook-timestamp", "1614265330"), ("webhook-signature", StandardSignature)), Bytes(StandardPayload), at).Verified);
        // Only the v1 scheme counts: the same bytes labelled v2 do not.
        Assert.False(Standard(StandardSecret).Verify(StandardHeaders("v2," + StandardSignature[3..]), Bytes(StandardPayload), at).Verified);
    }

    [Fact]
    public void SlackAcceptsItsPublishedExample()
    {
        var at = DateTimeOffset.FromUnixTimeSeconds(SlackTimestamp);

        Assert.True(Slack(SlackSecret).Verify(SlackHeaders(SlackTimestamp, SlackSignature), Bytes(SlackBody), at).Verified);
    }

    [Fact]
    public void SlackRefusesATamperedBodyAWrongSecretAStaleTimestampAndAMissingHeader()
    {
        var at = DateTimeOffset.FromUnixTimeSeconds(SlackTimestamp);

        Assert.False(Slack(SlackSecret).Verify(SlackHeaders(SlackTimestamp, SlackSignature), Bytes(SlackBody + "&x=1"), at).Verified);
        Assert.False(Slack("8f742231b10e8888abcd99yyyzzz85a6").Verify(SlackHeaders(SlackTimestamp, SlackSignature), Bytes(SlackBody), at).Verified);
        Assert.False(Slack(SlackSecret).Verify(SlackHeaders(SlackTimestamp, SlackSignature), Bytes(SlackBody), at.AddMinutes(6)).Verified);
        Assert.False(Slack(SlackSecret).Verify(Headers(("X-Slack-Signature", SlackSignature)), Bytes(SlackBody), at).Verified);
        Assert.False(Slack(SlackSecret).Verify(Headers(("X-Slack-Request-Timestamp", "1531420618")), Bytes(SlackBody), at).Verified);
    }

    [Fact]
    public void StripeAcceptsItsSchemeWithSeveralV1ValuesAndIgnoresV0()
    {
        var at = DateTimeOffset.FromUnixTimeSeconds(StripeTimestamp);

        Assert.True(Stripe(StripeSecret).Verify(StripeHeaders($"t={StripeTimestamp},v1={StripeV1}"), Bytes(StripePayload), at).Verified);
        Assert.True(Stripe(StripeSecret).Verify(StripeHeaders($"t={StripeTimestamp},v1={new string('0', 64)},v1={StripeV1},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"), Bytes(StripePayload), at).Verified);
        Assert.False(Stripe(StripeSecret).Verify(StripeHeaders($"t={StripeTimestamp},v0={StripeV1}"), Bytes(StripePayload), at).Verified);
    }

    [Fact]
    public void StripeRefusesATamperedBodyAWrongSecretAStaleTimestampAndAMissingHeader()
    {
        var at = DateTimeOffset.FromUnixTimeSeconds(StripeTimestamp);
        var header = $"t={StripeTimestamp},v1={StripeV1}";

        Assert.False(Stripe(StripeSecret).Verify(StripeHeaders(header), Bytes(StripePayload + " "), at).Verified);
        Assert.False(Stripe("whsec_other").Verify(StripeHeaders(header), Bytes(StripePayload), at).Verified);
        Assert.False(Stripe(StripeSecret).Verify(StripeHeaders(header), Bytes(StripePayload), at.AddSeconds(301)).Verified);
        Assert.False(Stripe(StripeSecret).Verify(Headers(), Bytes(StripePayload), at).Verified);
        // The timestamp is part of what is signed: moving it breaks the signature even within the tolerance.
        Assert.False(Stripe(StripeSecret).Verify(StripeHeaders($"t={StripeTimestamp + 1},v1={StripeV1}"), Bytes(StripePayload), at).Verified);
        // A configured tolerance replaces the 5 minutes.
        var lenient = new StripeVerifier(new SenderVerification.Types.Stripe { Secret = StripeSecret, Tolerance = Duration.FromTimeSpan(TimeSpan.FromMinutes(10)) });
        Assert.True(lenient.Verify(StripeHeaders(header), Bytes(StripePayload), at.AddMinutes(9)).Verified);
    }

    [Fact]
    public void ShopifyAcceptsItsSchemeAndRefusesTamperingAWrongSecretAndAMissingHeader()
    {
        var verifier = Presets.Create(new SenderVerification { Shopify = new SenderVerification.Types.Shopify { Secret = ShopifySecret } })!;

        Assert.True(verifier.Verify(Headers(("X-Shopify-Hmac-Sha256", ShopifyHmac)), Bytes(ShopifyPayload), Now).Verified);
        Assert.False(verifier.Verify(Headers(("X-Shopify-Hmac-Sha256", ShopifyHmac)), Bytes(ShopifyPayload.Replace("123.45", "0.01", StringComparison.Ordinal)), Now).Verified);
        Assert.False(Presets.Create(new SenderVerification { Shopify = new SenderVerification.Types.Shopify { Secret = "other" } })!
            .Verify(Headers(("X-Shopify-Hmac-Sha256", ShopifyHmac)), Bytes(ShopifyPayload), Now).Verified);
        Assert.False(verifier.Verify(Headers(), Bytes(ShopifyPayload), Now).Verified);
    }

    [Theory]
    [InlineData(HmacAlgorithm.Sha1, SignatureEncoding.Hex, "sha1=", "sha1=cb219af2103e1e1936dc94728b1def88ff101ff2")]
    [InlineData(HmacAlgorithm.Sha512, SignatureEncoding.Base64, "", "yKfdRLViyKFVTMGjq0W+AJv2nXz4kVXjEmpdeNSOMIVAASW9sP71FblKwTklkfp+25c1ViVEf55NudYgVX/SiQ==")]
    [InlineData(HmacAlgorithm.Unspecified, SignatureEncoding.Unspecified, "sha256=", GitHubSignature)]
    public void GenericHmacSupportsEachAlgorithmEncodingAndPrefix(HmacAlgorithm algorithm, SignatureEncoding encoding, string prefix, string header)
    {
        // Vectors computed with `printf '%s' 'Hello, World!' | openssl dgst -sha1|-sha512 -hmac <secret>` (hex / base64).
        var secret = algorithm == HmacAlgorithm.Unspecified ? GitHubSecret : "generic-secret";
        var verifier = new HmacVerifier(new SenderVerification.Types.Hmac { Header = "X-Signature", Algorithm = algorithm, Encoding = encoding, Prefix = prefix, Secret = secret });

        Assert.True(verifier.Verify(Headers(("X-Signature", header)), Bytes(GitHubPayload), Now).Verified);
        Assert.False(verifier.Verify(Headers(("X-Signature", header)), Bytes(GitHubPayload + "!"), Now).Verified);
        Assert.False(verifier.Verify(Headers(("X-Other", header)), Bytes(GitHubPayload), Now).Verified);
    }

    [Fact]
    public void BearerAndBasicCompareTheWholeCredential()
    {
        var bearer = new BearerVerifier(new SenderVerification.Types.Bearer { Token = "s3cret-token" });
        var gitlab = new BearerVerifier(new SenderVerification.Types.Bearer { Token = "s3cret-token", Header = "X-Gitlab-Token" });
        var basic = new BasicVerifier(new SenderVerification.Types.Basic { Username = "hook", Password = "pa:ss" });

        Assert.True(bearer.Verify(Headers(("Authorization", "Bearer s3cret-token")), [], Now).Verified);
        Assert.True(bearer.Verify(Headers(("Authorization", "bearer s3cret-token")), [], Now).Verified);
        Assert.False(bearer.Verify(Headers(("Authorization", "Bearer s3cret-toke")), [], Now).Verified);
        Assert.False(bearer.Verify(Headers(("Authorization", "Bearer s3cret-token2")), [], Now).Verified);
        Assert.False(bearer.Verify(Headers(("Authorization", "Basic s3cret-token")), [], Now).Verified);
        Assert.False(bearer.Verify(Headers(), [], Now).Verified);
        Assert.True(gitlab.Verify(Headers(("X-Gitlab-Token", "s3cret-token")), [], Now).Verified);
        Assert.False(gitlab.Verify(Headers(("Authorization", "Bearer s3cret-token")), [], Now).Verified);
        Assert.True(basic.Verify(Headers(("Authorization", "Basic " + Convert.ToBase64String(Bytes("hook:pa:ss")))), [], Now).Verified);
        Assert.False(basic.Verify(Headers(("Authorization", "Basic " + Convert.ToBase64String(Bytes("hook:pa:sS")))), [], Now).Verified);
        Assert.False(basic.Verify(Headers(("Authorization", "Basic !!!")), [], Now).Verified);
        Assert.False(basic.Verify(Headers(), [], Now).Verified);
    }

    [Fact]
    public void AVerdictNamesTheCredentialToDropOrTheSignatureToRememberAndHowLongACopyWouldVerify()
    {
        var bearer = new BearerVerifier(new SenderVerification.Types.Bearer { Token = "s3cret-token" }).Verify(Headers(("Authorization", "Bearer s3cret-token")), [], Now);
        var gitlab = new BearerVerifier(new SenderVerification.Types.Bearer { Token = "s3cret-token", Header = "X-Gitlab-Token" }).Verify(Headers(("X-Gitlab-Token", "s3cret-token")), [], Now);
        var basic = new BasicVerifier(new SenderVerification.Types.Basic { Username = "hook", Password = "pw" }).Verify(Headers(("Authorization", "Basic " + Convert.ToBase64String(Bytes("hook:pw")))), [], Now);
        var github = GitHub(GitHubSecret).Verify(Headers(("X-Hub-Signature-256", GitHubSignature)), Bytes(GitHubPayload), Now);
        var stripeAt = DateTimeOffset.FromUnixTimeSeconds(StripeTimestamp);
        var stripe = Stripe(StripeSecret).Verify(StripeHeaders($"t={StripeTimestamp},v1={StripeV1}"), Bytes(StripePayload), stripeAt.AddMinutes(2));
        var standard = Standard(StandardSecret).Verify(StandardHeaders(StandardSignature), Bytes(StandardPayload), DateTimeOffset.FromUnixTimeSeconds(StandardTimestamp));
        var slack = Slack(SlackSecret).Verify(SlackHeaders(SlackTimestamp, SlackSignature), Bytes(SlackBody), DateTimeOffset.FromUnixTimeSeconds(SlackTimestamp));

        Assert.Equal((true, "Authorization", null), (bearer.Verified, bearer.CredentialHeader, bearer.Signature));
        Assert.Equal((true, "X-Gitlab-Token", null), (gitlab.Verified, gitlab.CredentialHeader, gitlab.Signature));
        Assert.Equal((true, "Authorization", null), (basic.Verified, basic.CredentialHeader, basic.Signature));
        // Signing presets drop nothing; they hand over the MAC they computed, which equals the presented signature.
        Assert.Equal((true, null, null), (github.Verified, github.CredentialHeader, github.VerifiableUntil));
        Assert.Equal(Convert.FromHexString(GitHubSignature["sha256=".Length..]), github.Signature);
        Assert.Equal(Convert.FromHexString(StripeV1), stripe.Signature);
        Assert.Equal(stripeAt.AddMinutes(5), stripe.VerifiableUntil);
        Assert.Equal(Convert.FromBase64String(StandardSignature["v1,".Length..]), standard.Signature);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(StandardTimestamp).AddMinutes(5), standard.VerifiableUntil);
        Assert.Equal(StandardId, standard.SignedId);
        Assert.Equal(Convert.FromHexString(SlackSignature["v0=".Length..]), slack.Signature);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(SlackTimestamp).AddMinutes(5), slack.VerifiableUntil);
        Assert.Null(slack.SignedId);
        // A refusal carries nothing.
        Assert.Equal(Verdict.Refused, GitHub(GitHubSecret).Verify(Headers(("X-Hub-Signature-256", GitHubSignature)), Bytes("tampered"), Now));
    }

    [Fact]
    public void NoPresetMeansNoVerifier() => Assert.Null(Presets.Create(new SenderVerification()));

    private static IVerifier GitHub(string secret) => Presets.Create(new SenderVerification { Github = new SenderVerification.Types.GitHub { Secret = secret } })!;

    private static StandardWebhooksVerifier Standard(string secret) => new(new SenderVerification.Types.StandardWebhooks { Secret = secret });

    private static SlackVerifier Slack(string secret) => new(new SenderVerification.Types.Slack { Secret = secret });

    private static StripeVerifier Stripe(string secret) => new(new SenderVerification.Types.Stripe { Secret = secret });

    private static HeaderDictionary StandardHeaders(string signature) =>
        Headers(("webhook-id", StandardId), ("webhook-timestamp", StandardTimestamp.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("webhook-signature", signature));

    private static HeaderDictionary SlackHeaders(long timestamp, string signature) =>
        Headers(("X-Slack-Request-Timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("X-Slack-Signature", signature));

    private static HeaderDictionary StripeHeaders(string value) => Headers(("Stripe-Signature", value));

    private static HeaderDictionary Headers(params (string Name, string Value)[] headers)
    {
        var dictionary = new HeaderDictionary();
        foreach (var (name, value) in headers)
        {
            dictionary.Append(name, value);
        }

        return dictionary;
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}

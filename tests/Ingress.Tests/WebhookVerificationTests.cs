using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using WebhookConnect.Ingress.Tests.Support;
using SenderVerification = WebhookConnect.Contracts.V1.Verification;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// Each timestamped preset through the running service, signed the way its provider signs (the schemes are pinned to
/// the providers' published vectors in VerificationVectorTests): a fresh signature is queued byte for byte, a stale
/// one and a tampered body are 401 and not queued.
/// </summary>
public sealed class WebhookVerificationTests(IngressStack stack) : IClassFixture<IngressStack>
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("{\"type\":\"invoice.paid\",\"amount\":4200}");

    [Fact]
    public async Task StripeSignedWebhooksAreQueuedAndStaleOrTamperedOnesAre401()
    {
        const string secret = "whsec_stripe_endpoint_secret";
        var channel = await stack.NewChannelAsync("stripe", endpoint: e => e.Verification = new SenderVerification { Stripe = new SenderVerification.Types.Stripe { Secret = secret } });
        string Sign(long t, byte[] body) => $"t={t},v1={Hex(Encoding.UTF8.GetBytes(secret), Encoding.ASCII.GetBytes($"{t}."), body)}";

        await AssertAsync(channel, [new("Stripe-Signature", Sign(Now(), Body))], [new("Stripe-Signature", Sign(Now() - 600, Body))], [new("Stripe-Signature", Sign(Now(), Body))]);
    }

    [Fact]
    public async Task SlackSignedWebhooksAreQueuedAndStaleOrTamperedOnesAre401()
    {
        const string secret = "slack-signing-secret-0123456789";
        var channel = await stack.NewChannelAsync("slack", endpoint: e => e.Verification = new SenderVerification { Slack = new SenderVerification.Types.Slack { Secret = secret } });
        KeyValuePair<string, string>[] Sign(long t) =>
        [
            new("X-Slack-Request-Timestamp", t.ToString(CultureInfo.InvariantCulture)),
            new("X-Slack-Signature", "v0=" + Hex(Encoding.UTF8.GetBytes(secret), Encoding.ASCII.GetBytes($"v0:{t}:"), Body)),
        ];

        await AssertAsync(channel, Sign(Now()), Sign(Now() - 600), Sign(Now()));
    }

    [Fact]
    public async Task StandardWebhooksSignedWebhooksAreQueuedAndStaleOrTamperedOnesAre401()
    {
        var key = RandomNumberGenerator.GetBytes(24);
        var channel = await stack.NewChannelAsync("standard", endpoint: e => e.Verification = new SenderVerification { StandardWebhooks = new SenderVerification.Types.StandardWebhooks { Secret = "whsec_" + Convert.ToBase64String(key) } });
        KeyValuePair<string, string>[] Sign(long t) =>
        [
            new("webhook-id", "msg_" + t.ToString(CultureInfo.InvariantCulture)),
            new("webhook-timestamp", t.ToString(CultureInfo.InvariantCulture)),
            new("webhook-signature", "v1," + Convert.ToBase64String(Mac(key, Encoding.ASCII.GetBytes($"msg_{t}.{t}."), Body))),
        ];

        await AssertAsync(channel, Sign(Now()), Sign(Now() - 600), Sign(Now()));
    }

    private async Task AssertAsync(string channel, KeyValuePair<string, string>[] fresh, KeyValuePair<string, string>[] stale, KeyValuePair<string, string>[] forTampered)
    {
        using var good = await stack.PostAsync($"/webhook/{channel}", Body, fresh);
        using var old = await stack.PostAsync($"/webhook/{channel}", Body, stale);
        using var tampered = await stack.PostAsync($"/webhook/{channel}", [.. Body, (byte)' '], forTampered);
        using var unsigned = await stack.PostAsync($"/webhook/{channel}", Body);

        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, tampered.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        var stored = Assert.Single(await stack.PeekAsync(channel));
        Assert.Equal(Body, stored.Body.ToByteArray());
        // The signature headers travel with the message, so the private side can verify again.
        foreach (var (name, value) in fresh)
        {
            Assert.Equal(value, stored.Headers.Single(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Value.ToStringUtf8());
        }
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static string Hex(byte[] key, byte[] prefix, byte[] body) => Convert.ToHexStringLower(Mac(key, prefix, body));

    private static byte[] Mac(byte[] key, byte[] prefix, byte[] body) => HMACSHA256.HashData(key, prefix.Concat(body).ToArray());
}

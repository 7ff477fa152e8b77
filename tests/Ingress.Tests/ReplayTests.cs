using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using WebhookConnect.Ingress.Tests.Support;
using SenderVerification = WebhookConnect.Contracts.V1.Verification;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// Issue 20, finding 6: a verified request sent again (by an attacker who captured it, or by anyone who read it) is a
/// duplicate of the first, not a second message, for as long as it would still verify; an unsigned idempotency header
/// changed on the replay does not make it new. Real redis-server, queue-manager and ingress.
/// </summary>
public sealed class ReplayTests(IngressStack stack) : IClassFixture<IngressStack>
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}");

    [Fact]
    public async Task AStripeRequestSentAgainWithinItsToleranceIsADuplicateOfTheFirstEvenWithItsSignatureHeaderReSpelt()
    {
        const string secret = "whsec_replay_stripe_secret";
        var channel = await stack.NewChannelAsync("replay-stripe", endpoint: e => e.Verification = new SenderVerification { Stripe = new() { Secret = secret } });
        var t = Now();
        var v1 = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Signed($"{t}.")));

        using var first = await stack.PostAsync($"/webhook/{channel}", Body, [new("Stripe-Signature", $"t={t},v1={v1}")]);
        using var replay = await stack.PostAsync($"/webhook/{channel}", Body, [new("Stripe-Signature", $"t={t},v1={v1}")]);
        // The same signed content, spelt differently: upper-case hex and a decoy candidate before the real one.
        using var respelt = await stack.PostAsync($"/webhook/{channel}", Body, [new("Stripe-Signature", $"t={t},v1={new string('0', 64)},v1={v1.ToUpperInvariant()}")]);

        var id = await AssertQueuedAsync(first);
        await AssertDuplicateOfAsync(replay, id);
        await AssertDuplicateOfAsync(respelt, id);
        var stored = Assert.Single(await stack.PeekAsync(channel));
        Assert.Equal(id, stored.MessageId);
        var stats = await stack.StatsAsync(channel);
        Assert.Equal(1u, stats.PublishedTotal);
        Assert.Equal(2u, stats.DuplicatesTotal);
        // Remembered for what is left of the 5 min tolerance plus the 1 min clock-skew margin, in Redis itself.
        var window = stored.ReplayWindow.ToTimeSpan();
        Assert.InRange(window, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(6) + TimeSpan.FromSeconds(1));
        var pttl = long.Parse((await stack.Redis.ExecuteAsync("PTTL", $"wc:{{{channel}}}:replay:{stored.ReplayKey}"))!, CultureInfo.InvariantCulture);
        Assert.InRange(pttl, 1, (long)window.TotalMilliseconds);
    }

    [Fact]
    public async Task AStandardWebhooksRequestSentAgainOrRetriedWithTheSameWebhookIdIsADuplicateAndANewIdIsQueued()
    {
        var key = RandomNumberGenerator.GetBytes(24);
        // No idempotency header configured: webhook-id, which the signature covers, is the default.
        var channel = await stack.NewChannelAsync("replay-standard", endpoint: e => e.Verification = new SenderVerification { StandardWebhooks = new() { Secret = "whsec_" + Convert.ToBase64String(key) } });
        KeyValuePair<string, string>[] Sign(string id, long t) =>
        [
            new("webhook-id", id),
            new("webhook-timestamp", t.ToString(CultureInfo.InvariantCulture)),
            new("webhook-signature", "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Signed($"{id}.{t}.")))),
        ];
        var signed = Sign("msg_replay_1", Now());

        using var first = await stack.PostAsync($"/webhook/{channel}", Body, signed);
        using var replay = await stack.PostAsync($"/webhook/{channel}", Body, signed);
        // The sender's own retry: same webhook-id, a new timestamp and so a new signature.
        using var retry = await stack.PostAsync($"/webhook/{channel}", Body, Sign("msg_replay_1", Now() + 1));
        using var next = await stack.PostAsync($"/webhook/{channel}", Body, Sign("msg_replay_2", Now()));

        var id = await AssertQueuedAsync(first);
        await AssertDuplicateOfAsync(replay, id);
        await AssertDuplicateOfAsync(retry, id);
        var nextId = await AssertQueuedAsync(next);
        var stored = await stack.PeekAsync(channel);
        Assert.Equal([id, nextId], stored.Select(m => m.MessageId));
        Assert.Equal(["msg_replay_1", "msg_replay_2"], stored.Select(m => m.IdempotencyKey));
        Assert.Equal(2u, (await stack.StatsAsync(channel)).DuplicatesTotal);
    }

    [Fact]
    public async Task AGitHubRequestSentAgainIsADuplicateEvenWithItsUnsignedDeliveryHeaderChanged()
    {
        const string secret = "github-replay-secret";
        var channel = await stack.NewChannelAsync("replay-github", endpoint: e =>
        {
            e.Verification = new SenderVerification { Github = new() { Secret = secret } };
            e.IdempotencyHeader = "X-GitHub-Delivery";
        });
        string Sign(byte[] body) => "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
        var other = Encoding.UTF8.GetBytes("{\"action\":\"closed\"}");

        using var first = await stack.PostAsync($"/webhook/{channel}", Body, [new("X-Hub-Signature-256", Sign(Body)), new("X-GitHub-Delivery", "d-1")]);
        using var replay = await stack.PostAsync($"/webhook/{channel}", Body, [new("X-Hub-Signature-256", Sign(Body)), new("X-GitHub-Delivery", "d-1")]);
        // Whoever replays can write any X-GitHub-Delivery: the signature does not cover it.
        using var disguised = await stack.PostAsync($"/webhook/{channel}", Body, [new("X-Hub-Signature-256", Sign(Body)), new("X-GitHub-Delivery", "d-forged")]);
        using var next = await stack.PostAsync($"/webhook/{channel}", other, [new("X-Hub-Signature-256", Sign(other)), new("X-GitHub-Delivery", "d-2")]);

        var id = await AssertQueuedAsync(first);
        await AssertDuplicateOfAsync(replay, id);
        await AssertDuplicateOfAsync(disguised, id);
        var nextId = await AssertQueuedAsync(next);
        var stored = await stack.PeekAsync(channel);
        Assert.Equal([id, nextId], stored.Select(m => m.MessageId));
        Assert.Equal(2u, (await stack.StatsAsync(channel)).DuplicatesTotal);
        // No timestamp: remembered for Ingress:ReplayWindow (24 h by default).
        Assert.Equal(TimeSpan.FromHours(24), stored[0].ReplayWindow.ToTimeSpan());
        Assert.Equal(64, stored[0].ReplayKey.Length);
    }

    [Fact]
    public async Task ABearerRequestSentAgainIsQueuedAgainBecauseAStaticTokenSignsNothing()
    {
        // Documented limit (docs/ingress.md): bearer, basic and none carry nothing that tells one request from its
        // copy; an idempotency header is the only de-duplication they get.
        var channel = await stack.NewChannelAsync("replay-bearer", endpoint: e => e.Verification = new SenderVerification { Bearer = new() { Token = "bearer-replay-token" } });

        using var first = await stack.PostAsync($"/webhook/{channel}", Body, [new("Authorization", "Bearer bearer-replay-token")]);
        using var again = await stack.PostAsync($"/webhook/{channel}", Body, [new("Authorization", "Bearer bearer-replay-token")]);

        await AssertQueuedAsync(first);
        await AssertQueuedAsync(again);
        var stored = await stack.PeekAsync(channel);
        Assert.Equal(2, stored.Count);
        Assert.All(stored, m => Assert.Equal("", m.ReplayKey));
    }

    private static async Task<string> AssertQueuedAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("queued", json.RootElement.GetProperty("status").GetString());
        Assert.False(json.RootElement.TryGetProperty("duplicate", out _));
        return json.RootElement.GetProperty("message_id").GetString()!;
    }

    private static async Task AssertDuplicateOfAsync(HttpResponseMessage response, string originalId)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(originalId, json.RootElement.GetProperty("message_id").GetString());
        Assert.True(json.RootElement.GetProperty("duplicate").GetBoolean());
        Assert.Equal(originalId, Assert.Single(response.Headers.GetValues("X-Webhook-Message-Id")));
    }

    /// <summary>What the timestamped schemes sign: a prefix, then the body.</summary>
    private static byte[] Signed(string prefix) => [.. Encoding.ASCII.GetBytes(prefix), .. Body];

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();
}

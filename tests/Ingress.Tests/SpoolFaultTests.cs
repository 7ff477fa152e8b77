using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Spool;
using WebhookConnect.Ingress.Tests.Support;
using WebhookConnect.TestKit;
using SenderVerification = WebhookConnect.Contracts.V1.Verification;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// SPEC §4's spool through real faults: Redis stopped while webhooks arrive, ingress killed with SIGKILL while
/// messages wait in its spool, a spool whose last record was torn by a crash. Each test has its own processes.
/// </summary>
public sealed class SpoolFaultTests
{
    private const int Count = 15;

    [Fact]
    public async Task WithRedisStoppedWebhooksAre202AndAfterItReturnsEveryOneIsQueuedExactlyOnce()
    {
        await using var stack = new IngressStack { AppendOnly = true };
        await stack.InitializeAsync();
        var channel = await stack.NewChannelAsync("outage");

        var before = await PostManyAsync(stack, channel, "before", HttpStatusCode.OK);
        await stack.Redis.StopAsync();
        var during = await PostManyAsync(stack, channel, "during", HttpStatusCode.Accepted);
        Assert.Equal((double)Count, await stack.Ingress.MetricAsync("webhookconnect_ingress_spool_messages"));
        await stack.Redis.RestartAsync();

        await Eventually.UntilAsync(
            async () => await TryStatsAsync(stack, channel) is { PublishedTotal: 2 * Count },
            IngressProcess.Patience,
            "every spooled webhook to be queued");
        var queued = await stack.PeekAsync(channel);
        Assert.Equal([.. before.Keys, .. during.Keys], queued.Select(m => m.MessageId).ToList());
        Assert.All(queued, m => Assert.Equal((before.TryGetValue(m.MessageId, out var b) ? b : during[m.MessageId]), m.Body.ToStringUtf8()));
        var stats = await stack.StatsAsync(channel);
        Assert.Equal((uint)(2 * Count), stats.MessagesQueued);
        Assert.Equal((ulong)(2 * Count), stats.PublishedTotal);
        await Eventually.UntilAsync(
            async () => await stack.Ingress.MetricAsync("webhookconnect_ingress_spool_messages") == 0
                && new FileInfo(Path.Combine(stack.SpoolPath, SpoolFile.LogFileName)).Length == 0,
            IngressProcess.Patience,
            "the spool to be empty and truncated");

        // And the queue is back for new webhooks.
        using var after = await stack.PostAsync($"/webhook/{channel}", "{}"u8.ToArray());
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task AnIngressKilledWithSpooledMessagesDeliversThemAfterARestart()
    {
        await using var stack = new IngressStack { AppendOnly = true };
        await stack.InitializeAsync();
        var channel = await stack.NewChannelAsync("sigkill");
        await stack.Redis.StopAsync();
        var spooled = await PostManyAsync(stack, channel, "spooled", HttpStatusCode.Accepted);

        await stack.KillIngressAsync();
        await stack.Redis.RestartAsync();
        await Eventually.UntilAsync(async () => await TryStatsAsync(stack, channel) is not null, IngressProcess.Patience, "the queue-manager to reach Redis again");
        Assert.Equal(0u, (await stack.StatsAsync(channel)).PublishedTotal);
        await stack.RestartIngressAsync();

        await Eventually.UntilAsync(
            async () => (await stack.StatsAsync(channel)).PublishedTotal == Count,
            IngressProcess.Patience,
            "the restarted ingress to replay the spool");
        var queued = await stack.PeekAsync(channel);
        Assert.Equal(spooled.Keys.ToList(), queued.Select(m => m.MessageId).ToList());
        Assert.All(queued, m => Assert.Equal(spooled[m.MessageId], m.Body.ToStringUtf8()));
        Assert.Equal((uint)Count, (await stack.StatsAsync(channel)).MessagesQueued);
    }

    [Fact]
    public async Task ATornLastSpoolRecordIsSkippedAndTheOthersAreReplayed()
    {
        await using var stack = new IngressStack();
        await stack.InitializeAsync();
        var channel = await stack.NewChannelAsync("torn");
        await stack.KillIngressAsync();

        // What a crash in the middle of the fourth write leaves behind.
        var messages = Enumerable.Range(0, 4).Select(i => new Message
        {
            MessageId = Guid.CreateVersion7().ToString(),
            Channel = channel,
            EndpointId = channel,
            ReceivedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            Body = ByteString.CopyFromUtf8($"{{\"n\":{i}}}"),
        }).ToList();
        await using (var file = new FileStream(Path.Combine(stack.SpoolPath, SpoolFile.LogFileName), FileMode.Create))
        {
            foreach (var message in messages[..3])
            {
                await file.WriteAsync(SpoolFormat.Frame(message.ToByteArray()));
            }

            var torn = SpoolFormat.Frame(messages[3].ToByteArray());
            await file.WriteAsync(torn.AsMemory(0, torn.Length / 2));
        }

        File.Delete(Path.Combine(stack.SpoolPath, SpoolFile.PositionFileName));
        await stack.RestartIngressAsync();

        await Eventually.UntilAsync(
            async () => (await stack.StatsAsync(channel)).PublishedTotal == 3,
            IngressProcess.Patience,
            "the three whole records to be replayed");
        Assert.Equal(messages[..3].Select(m => m.MessageId).ToList(), (await stack.PeekAsync(channel)).Select(m => m.MessageId).ToList());
        await stack.Ingress.Process.WaitForLineAsync(line => line.Contains("torn tail", StringComparison.Ordinal), IngressProcess.Patience);
        Assert.Equal(3u, (await stack.StatsAsync(channel)).MessagesQueued);
    }

    [Fact]
    public async Task AFullSpoolWhileTheQueueIsUnreachableIs503WithRetryAfterAndWhatWasAcceptedIsKept()
    {
        await using var stack = new IngressStack { AppendOnly = true, IngressSettings = new Dictionary<string, string> { ["Ingress:SpoolMaxBytes"] = "4096" } };
        await stack.InitializeAsync();
        var channel = await stack.NewChannelAsync("spool-full");
        await stack.Redis.StopAsync();

        var accepted = new List<string>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 100 && refused is null; i++)
        {
            var response = await stack.PostAsync($"/webhook/{channel}", Encoding.UTF8.GetBytes(new string('x', 500)));
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                accepted.Add(json.RootElement.GetProperty("message_id").GetString()!);
                response.Dispose();
            }
            else
            {
                refused = response;
            }
        }

        Assert.NotNull(refused);
        using (refused)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(5), refused.Headers.RetryAfter?.Delta);
        }

        Assert.InRange(accepted.Count, 1, 4096 / 500);
        await stack.Redis.RestartAsync();
        await Eventually.UntilAsync(
            async () => await TryStatsAsync(stack, channel) is { } stats && stats.PublishedTotal == (ulong)accepted.Count,
            IngressProcess.Patience,
            "every accepted webhook to be queued");
        Assert.Equal(accepted, (await stack.PeekAsync(channel)).Select(m => m.MessageId).ToList());
    }

    /// <summary>Posts <see cref="Count"/> webhooks, each expected to get <paramref name="expected"/>; returns id → body.</summary>
    [Fact]
    public async Task ASignedRequestReplayedWhileTheQueueWasUnreachableIsQueuedOnceAfterItReturns()
    {
        // Issue 20, finding 6: the replay key travels in the spooled message, so the replay is recognised when the
        // spool is published, although both copies were answered 202 with ids of their own.
        await using var stack = new IngressStack { AppendOnly = true };
        await stack.InitializeAsync();
        const string secret = "github-spool-replay-secret";
        var channel = await stack.NewChannelAsync("spool-replay", endpoint: e => e.Verification = new SenderVerification { Github = new() { Secret = secret } });
        var body = "{\"action\":\"opened\"}"u8.ToArray();
        KeyValuePair<string, string>[] signature =
            [new("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body)))];
        await stack.Redis.StopAsync();

        using var original = await stack.PostAsync($"/webhook/{channel}", body, signature);
        using var replay = await stack.PostAsync($"/webhook/{channel}", body, signature);
        Assert.Equal(HttpStatusCode.Accepted, original.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        await stack.Redis.RestartAsync();

        await Eventually.UntilAsync(
            async () => await TryStatsAsync(stack, channel) is { PublishedTotal: 1, DuplicatesTotal: 1 },
            IngressProcess.Patience,
            "the spool to be replayed");
        var queued = Assert.Single(await stack.PeekAsync(channel));
        Assert.Equal(Assert.Single(original.Headers.GetValues("X-Webhook-Message-Id")), queued.MessageId);
        Assert.Equal(body, queued.Body.ToByteArray());
    }

    private static async Task<Dictionary<string, string>> PostManyAsync(IngressStack stack, string channel, string phase, HttpStatusCode expected)
    {
        var sent = new Dictionary<string, string>();
        for (var i = 0; i < Count; i++)
        {
            var body = $"{{\"phase\":\"{phase}\",\"n\":{i}}}";
            using var response = await stack.PostAsync($"/webhook/{channel}", Encoding.UTF8.GetBytes(body));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(expected == response.StatusCode, $"{phase} #{i}: {(int)response.StatusCode} {text}\n{stack.Ingress.Process.Output}");
            using var json = JsonDocument.Parse(text);
            sent.Add(json.RootElement.GetProperty("message_id").GetString()!, body);
        }

        return sent;
    }

    private static async Task<Contracts.Admin.V1.ChannelStats?> TryStatsAsync(IngressStack stack, string channel)
    {
        try
        {
            return await stack.StatsAsync(channel);
        }
        catch (global::Grpc.Core.RpcException)
        {
            return null; // Redis is still coming back.
        }
    }
}

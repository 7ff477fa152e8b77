using System.Net;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// Issue 20, finding 5: anonymous senders filling the shared Redis through an open endpoint. A channel's byte budget
/// (<c>max_queue_bytes</c>) turns the flood into 503 + Retry-After for that channel only, keeps exactly what was
/// accepted, and frees room again as the connector acks.
/// </summary>
public sealed class ChannelByteBudgetTests(IngressStack stack) : IClassFixture<IngressStack>
{
    private const int BodyBytes = 10_000;
    private const ulong Budget = 64 * 1024;

    [Fact]
    public async Task AFloodOverTheChannelByteBudgetIs503WithRetryAfterKeepsExactlyTheAcceptedAndOtherChannelsStillAccept()
    {
        var channel = IngressStack.UniqueName("budget");
        var created = await stack.Admin.CreateChannelAsync(
            new CreateChannelRequest
            {
                Channel = channel,
                Settings = new ChannelSettings { MaxMessageBytes = 16 * 1024, MaxQueueBytes = Budget },
                Endpoints = { new EndpointConfig { Id = channel, Verification = TestChannels.Unverified } },
            },
            IngressStack.Bearer);
        var other = await stack.NewChannelAsync("budget-other");
        await stack.SyncAsync();

        // Each stored envelope is the 10 000-byte body plus ids and headers (a few hundred bytes): 6 fit in 64 KiB,
        // a 7th would not.
        var answers = new List<(HttpStatusCode Status, string? Id, TimeSpan? RetryAfter, string Body)>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await stack.PostAsync($"/webhook/{channel}", Body(i));
            answers.Add((
                response.StatusCode,
                response.Headers.TryGetValues("X-Webhook-Message-Id", out var ids) ? ids.Single() : null,
                response.Headers.RetryAfter?.Delta,
                await response.Content.ReadAsStringAsync()));
        }

        using var elsewhere = await stack.PostAsync($"/webhook/{other}", Body(0));

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 6), .. Enumerable.Repeat(HttpStatusCode.ServiceUnavailable, 4)], answers.Select(a => a.Status));
        Assert.All(answers.Skip(6), a => Assert.Equal((TimeSpan.FromSeconds(5), "{\"error\":\"queue full\"}"), (a.RetryAfter!.Value, a.Body)));
        Assert.Equal(HttpStatusCode.OK, elsewhere.StatusCode);
        var stored = await stack.PeekAsync(channel);
        Assert.Equal(answers.Take(6).Select(a => a.Id), stored.Select(m => m.MessageId));
        Assert.All(stored.Select((m, i) => (m, i)), x => Assert.Equal(Body(x.i), x.m.Body.ToByteArray()));
        var stats = await stack.StatsAsync(channel);
        Assert.Equal((6u, 4UL), (stats.MessagesQueued, stats.RejectedTotal));
        Assert.Equal((ulong)stored.Sum(m => m.CalculateSize()), stats.QueueBytes);
        Assert.True(stats.QueueBytes <= Budget, $"{stats.QueueBytes} bytes held, budget {Budget}");

        // The connector acks; the bytes are freed and the same sender is accepted again.
        await using var connector = await TestConnector.ConnectAsync(stack.QueueManager.Channel, channel, created.Token, maxInFlight: 10);
        var deliveries = await connector.TakeAsync(6);
        await connector.AckAsync([.. deliveries.Select(d => d.Message.MessageId)]);
        await Eventually.UntilAsync(async () => (await stack.StatsAsync(channel)).QueueBytes == 0, IngressProcess.Patience, "the acks to free the channel's bytes");
        using var again = await stack.PostAsync($"/webhook/{channel}", Body(10));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    private static byte[] Body(int n)
    {
        var body = new byte[BodyBytes];
        Array.Fill(body, (byte)('a' + (n % 26)));
        return body;
    }
}

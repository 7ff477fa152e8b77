using System.Net;
using System.Text;
using System.Text.Json;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Tests.Support;

namespace WebhookConnect.Ingress.Tests;

/// <summary><c>Ingress:PublishBatching=true</c>: concurrent requests coalesced into PublishBatch calls answer exactly
/// as unary Publishes would.</summary>
public sealed class PublishBatchingTests : IAsyncLifetime
{
    private readonly IngressStack _stack = new() { IngressSettings = new Dictionary<string, string> { ["Ingress:PublishBatching"] = "true" } };

    public ValueTask InitializeAsync() => _stack.InitializeAsync();

    public ValueTask DisposeAsync() => _stack.DisposeAsync();

    [Fact]
    public async Task ConcurrentWebhooksAreEachQueuedOnceWithTheirOwnIds()
    {
        var channel = await _stack.NewChannelAsync("batched");

        var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => PostAsync(channel, i)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        var ids = responses.Select(r => r.MessageId!).ToHashSet();
        Assert.Equal(60, ids.Count);
        var queued = await _stack.PeekAsync(channel);
        Assert.Equal(ids, queued.Select(m => m.MessageId).ToHashSet());
        Assert.Equal(60u, (await _stack.StatsAsync(channel)).PublishedTotal);
    }

    [Fact]
    public async Task AChannelFillingUpMidBatchAdmitsExactlyItsSizeAndRefusesTheRestWith503()
    {
        var channel = await _stack.NewChannelAsync("batched-full", new ChannelSettings { MaxQueueSize = 10 });

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => PostAsync(channel, i)));

        Assert.Equal(10, responses.Count(r => r.Status == HttpStatusCode.OK));
        Assert.Equal(30, responses.Count(r => r.Status == HttpStatusCode.ServiceUnavailable));
        Assert.Equal(10u, (await _stack.StatsAsync(channel)).MessagesQueued);
    }

    private async Task<(HttpStatusCode Status, string? MessageId)> PostAsync(string channel, int n)
    {
        using var response = await _stack.PostAsync($"/webhook/{channel}", Encoding.UTF8.GetBytes($"{{\"n\":{n}}}"));
        var text = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(text);
        return (response.StatusCode, json.RootElement.TryGetProperty("message_id", out var id) ? id.GetString() : null);
    }
}

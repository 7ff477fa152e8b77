using System.Net;
using System.Text;
using System.Text.Json;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Tests.Support;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// Both publish modes under concurrency: coalesced PublishBatch calls (the default, with every other test class
/// exercising it too) and one unary Publish per request (<c>Ingress:PublishBatching=false</c>) answer the same.
/// </summary>
public abstract class PublishModeTests(bool batching) : IAsyncLifetime
{
    private readonly IngressStack _stack = new() { IngressSettings = new Dictionary<string, string> { ["Ingress:PublishBatching"] = batching ? "true" : "false" } };

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

public sealed class CoalescedPublishTests() : PublishModeTests(batching: true);

public sealed class UnaryPublishTests() : PublishModeTests(batching: false);

using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests.Support;

/// <summary>One redis-server and one queue-manager process for a test class (an xunit class fixture): starting them
/// costs seconds on a 2-core machine. Tests keep apart by using their own channels (unique names).</summary>
public sealed class SharedQueueManager : IAsyncLifetime
{
    /// <summary>A channel (or endpoint) name no other test uses.</summary>
    public static string UniqueName(string prefix) => TestChannels.UniqueName(prefix);

    public QueueAdminService.QueueAdminServiceClient Admin => new(Replica.Internal.Channel);

    public PublishService.PublishServiceClient Publish => new(Replica.Internal.Channel);

    public RedisServer Redis { get; private set; } = null!;

    public QueueManagerProcess Replica { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        Replica = await QueueManagerProcess.StartAsync(Redis.Endpoint);
    }

    public async ValueTask DisposeAsync()
    {
        if (Replica is not null)
        {
            await Replica.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }

    /// <summary>A new channel with the given config fields; returns (name, token).</summary>
    public async Task<(string Name, string Token)> NewChannelAsync(string prefix, IReadOnlyDictionary<string, string>? settings = null)
    {
        var name = TestChannels.UniqueName(prefix);
        return (name, await TestChannels.CreateAsync(Replica.Internal, name, settings));
    }

    /// <summary>A counter or gauge of the channel as stored in Redis.</summary>
    public async Task<long> StatAsync(string channel, string counter)
    {
        var value = await Redis.ExecuteAsync("HGET", $"wc:{{{channel}}}:stats", counter);
        return value is null ? 0 : long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<long> CountAsync(string channel, string zsetSuffix) =>
        long.Parse((await Redis.ExecuteAsync("ZCARD", $"wc:{{{channel}}}:{zsetSuffix}"))!, System.Globalization.CultureInfo.InvariantCulture);
}

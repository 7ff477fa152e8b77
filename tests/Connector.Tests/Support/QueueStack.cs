using Google.Protobuf;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests.Support;

/// <summary>A private redis-server and a queue-manager process, shared by the tests of one class (each test uses
/// channels of its own), with the admin and publish calls the tests need.</summary>
public sealed class QueueStack : IAsyncLifetime
{
    /// <summary>For a replica a test restarts on the same port: a stop drains for 1 s, not the default.</summary>
    public static readonly IReadOnlyDictionary<string, string> QueueManagerSettings = new Dictionary<string, string>
    {
        ["QueueManager:DrainGracePeriod"] = "00:00:01",
    };

    public RedisServer Redis { get; private set; } = null!;

    public QueueManagerProcess QueueManager { get; private set; } = null!;

    public int Port => QueueManager.GrpcPort;

    public async ValueTask InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        QueueManager = await QueueManagerProcess.StartAsync(Redis.Endpoint);
    }

    /// <summary>Creates a channel with a unique name (retries after 50 ms by default, so redelivery tests are quick)
    /// and returns its name and token.</summary>
    public async Task<(string Channel, string Token)> CreateChannelAsync(string prefix, IReadOnlyDictionary<string, string>? settings = null)
    {
        var name = TestChannels.UniqueName(prefix);
        var all = new Dictionary<string, string> { ["backoff_initial_ms"] = "50", ["backoff_jitter"] = "0" };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        return (name, await TestChannels.CreateAsync(QueueManager.Internal, name, all));
    }

    public QueueAdminService.QueueAdminServiceClient Admin => new(QueueManager.Internal.Channel);

    public async Task<ChannelStats> StatsAsync(string channel) =>
        (await Admin.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel })).Stats;

    public async Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(string channel) =>
        (await Admin.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = channel, PageSize = 1000 })).Messages;

    /// <summary>Publishes a message for <paramref name="endpoint"/> with <paramref name="body"/> and returns it.</summary>
    public async Task<Message> PublishAsync(string channel, string endpoint, byte[] body, Action<Message>? customise = null)
    {
        var message = TestMessages.NewMessage(channel, "");
        message.EndpointId = endpoint;
        message.Body = ByteString.CopyFrom(body);
        customise?.Invoke(message);
        await QueueManager.Internal.PublishAsync(message);
        return message;
    }

    public async Task<List<Message>> PublishManyAsync(string channel, string endpoint, int count)
    {
        var messages = new List<Message>(count);
        for (var i = 0; i < count; i++)
        {
            messages.Add(await PublishAsync(channel, endpoint, System.Text.Encoding.UTF8.GetBytes($"{{\"n\":{i}}}")));
        }

        return messages;
    }

    /// <summary>Waits until the channel's counters satisfy <paramref name="condition"/>.</summary>
    public async Task<ChannelStats> WaitStatsAsync(string channel, Func<ChannelStats, bool> condition, string what, TimeSpan? timeout = null)
    {
        ChannelStats stats = new();
        await Eventually.UntilAsync(
            async () => condition(stats = await StatsAsync(channel)),
            timeout ?? QueueManagerProcess.Patience,
            $"{what} (last stats: {stats})");
        return stats;
    }

    public async ValueTask DisposeAsync()
    {
        if (QueueManager is not null)
        {
            await QueueManager.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }
}

/// <summary>Config files for tests.</summary>
public static class Configs
{
    /// <summary>One subscription with a token file <c>{dir}/token</c> and a default target.</summary>
    public static string Single(string channel, string targetUrl, string extra = "", int maxInFlight = 10) => $"""
        subscriptions:
          - channel: {channel}
            token_file: "{"{dir}"}/token"
            max_in_flight: {maxInFlight}
            default_target:
              url: "{targetUrl}"
              timeout: "00:00:05"
        retry:
          attempts: 2
          delay: "00:00:00.05"
        reconnect:
          initial_delay: "00:00:00.2"
          max_delay: "00:00:02"
        {extra}
        """;

    public static Dictionary<string, string> Token(string token) => new() { ["token"] = token };
}

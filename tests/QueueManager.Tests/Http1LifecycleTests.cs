using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using Google.Protobuf;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>HTTP/1.1 connector behaviour that needs a queue-manager of its own: drain on SIGTERM, a slow reader,
/// <c>AllowQueryToken=false</c>, sequences shared by replicas.</summary>
public sealed class Http1LifecycleTests
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task SigtermClosesWebSocketsWith1012EndsSseStreamsAndAnswersWaitingPollsWith503()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint, new Dictionary<string, string> { ["QueueManager:DrainGracePeriod"] = "00:00:01" });
        var channel = TestChannels.UniqueName("drain");
        var token = await TestChannels.CreateAsync(replica.Internal, channel);
        await using var ws = await WebSocketTestConnector.ConnectAsync(replica.HttpAddress, channel, token);
        await using var sse = await SseTestConnector.ConnectAsync(replica.HttpAddress, channel, token);
        await sse.NextAsync("connected");
        using var http = new HttpClient { BaseAddress = replica.HttpAddress, Timeout = Patience };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/connect/stream/{channel}/poll?timeout=60");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var poll = http.SendAsync(request);
        await Eventually.UntilAsync(async () => await redis.ExecuteAsync("ZCARD", $"wc:{{{channel}}}:conns") == "3", Patience, "three HTTP/1.1 connections registered");

        replica.Process.Signal(ChildProcess.SigTerm);

        var (status, description) = await ws.Closed.WaitAsync(Patience);
        Assert.Equal((1012, "service restart"), ((int?)status, description));
        await sse.Ended.WaitAsync(Patience);
        using var polled = await poll.WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, polled.StatusCode);
        Assert.Equal(0, await replica.Process.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task AWebSocketClientThatNeverReadsIsDisconnectedWithBoundedMemoryAndItsLeasesReleased()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint, new Dictionary<string, string>
        {
            ["QueueManager:HttpSendTimeout"] = "00:00:01",
            ["QueueManager:StreamBufferBytes"] = "65536",
            ["QueueManager:AllowQueryToken"] = "false",
        });
        var channel = TestChannels.UniqueName("slow");
        var token = await TestChannels.CreateAsync(replica.Internal, channel, new Dictionary<string, string> { ["max_in_flight"] = "1000", ["ack_timeout_ms"] = "600000" });
        var body = ByteString.CopyFrom(new byte[256 * 1024]);
        for (var i = 0; i < 200; i++)
        {
            var message = TestMessages.NewMessage(channel, "");
            message.Body = body;
            message.ContentType = "application/octet-stream";
            await replica.Internal.PublishAsync(message);
        }

        await using var stalled = await WebSocketTestConnector.ConnectAsync(replica.HttpAddress, channel, token, read: false);
        var admin = new QueueAdminService.QueueAdminServiceClient(replica.Internal.Channel);
        await Eventually.UntilAsync(async () => await redis.ExecuteAsync("ZCARD", $"wc:{{{channel}}}:leases") != "0", Patience, "deliveries to start");

        await Eventually.UntilAsync(
            async () => (await admin.ListConnectionsAsync(new ListConnectionsRequest { Channel = channel })).Connections.Count == 0,
            Patience,
            "the connection that never reads to be disconnected");
        await Eventually.UntilAsync(async () => await redis.ExecuteAsync("ZCARD", $"wc:{{{channel}}}:leases") == "0", Patience, "its leases released");
        Assert.Equal("200", await redis.ExecuteAsync("ZCARD", $"wc:{{{channel}}}:ready"));
        var resident = ProcessMemory.ResidentBytes(replica.Process.Id);
        Assert.True(resident < 400L * 1024 * 1024, $"queue-manager holds {ProcessMemory.Mib(resident)} after a 50 MiB backlog met a client that never reads");

        // The same replica refuses ?token= when AllowQueryToken is off.
        Assert.Equal(401, await WebSocketTestConnector.RefusedHandshakeAsync(replica.HttpAddress, channel, null, "?token=" + token));
    }

    [Fact]
    public async Task SequenceNumbersComeFromRedisSoTheyKeepGrowingAcrossReplicas()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var first = await QueueManagerProcess.StartAsync(redis.Endpoint);
        await using var second = await QueueManagerProcess.StartAsync(redis.Endpoint);
        var channel = TestChannels.UniqueName("seq");
        var token = await TestChannels.CreateAsync(first.Internal, channel);
        await first.Internal.PublishManyAsync(channel, 2);
        long[] seen;
        await using (var a = await WebSocketTestConnector.ConnectAsync(first.HttpAddress, channel, token))
        {
            var frames = await a.TakeAsync(2);
            await a.AckAsync(frames[0].GetProperty("message_id").GetString()!);
            await a.AckAsync(frames[1].GetProperty("message_id").GetString()!);
            seen = [.. frames.Select(f => f.GetProperty("sequence").GetInt64())];
        }

        await second.Internal.PublishManyAsync(channel, 1);
        await using var b = await WebSocketTestConnector.ConnectAsync(second.HttpAddress, channel, token);
        var later = (await b.NextAsync()).GetProperty("sequence").GetInt64();

        Assert.Equal(seen[0] + 1, seen[1]);
        Assert.Equal(seen[1] + 1, later);
        Assert.Equal(later.ToString(CultureInfo.InvariantCulture), await redis.ExecuteAsync("GET", $"wc:{{{channel}}}:seq"));
    }
}

using System.Diagnostics;
using Grpc.Core;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Streams;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;
using Limits = WebhookConnect.QueueManager.Streams.ConnectService;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>Issue 20, finding 7: a channel-token holder's frames, labels and version strings are bounded, so one
/// connector cannot block Redis for everybody or make queue-manager store what it likes.</summary>
public sealed class StreamLimitsTests(SharedQueueManager shared) : IClassFixture<SharedQueueManager>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task AnAckFrameWithMoreIdsThanTheLimitIsRefusedSettlesNothingAndRedisStaysResponsive()
    {
        var (channel, token) = await shared.NewChannelAsync("huge-ack");
        await shared.Replica.Internal.PublishManyAsync(channel, 1);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var delivery = await connector.NextAsync();
        var huge = new Ack { MessageIds = { delivery.Message.MessageId } };
        for (var i = 1; i < 400_000; i++)
        {
            huge.MessageIds.Add("msg_" + i.ToString("x24", System.Globalization.CultureInfo.InvariantCulture));
        }

        // Redis is probed while the frame is sent and answered: one Lua call over 400 000 ids would stall it.
        using var probing = new CancellationTokenSource();
        var slowestPing = ProbeRedisAsync(probing.Token);
        await connector.SendAsync(new ConnectRequest { Ack = huge });
        var status = await connector.Ended.WaitAsync(Patience);
        await probing.CancelAsync();

        Assert.Equal(
            (StatusCode.InvalidArgument, "ack.message_ids: 400000 ids in one frame, at most 1000 (the larger of 1000 and the stream's max_in_flight); send several frames"),
            (status.StatusCode, status.Detail));
        Assert.InRange(await slowestPing, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        Assert.Equal(0, await shared.StatAsync(channel, "acked_total"));
        // The refused frame settled nothing: the message goes to the next stream (its lease was released at the close).
        await using var next = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var again = await next.NextAsync();
        Assert.Equal(delivery.Message.MessageId, again.Message.MessageId);
    }

    [Fact]
    public async Task AnAckFrameAtTheLimitIsAccepted()
    {
        var (channel, token) = await shared.NewChannelAsync("ack-limit");
        await shared.Replica.Internal.PublishManyAsync(channel, 1);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var delivery = await connector.NextAsync();
        var atLimit = new Ack { MessageIds = { delivery.Message.MessageId } };
        for (var i = 1; i < StreamConnection.MinIdsPerFrameLimit; i++)
        {
            atLimit.MessageIds.Add("msg_not_leased_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        await connector.SendAsync(new ConnectRequest { Ack = atLimit });

        await Eventually.UntilAsync(async () => await shared.StatAsync(channel, "acked_total") == 1, Patience, "the one leased id of a 1000-id frame acked");
        Assert.False(connector.Ended.IsCompleted);
    }

    [Theory]
    [InlineData("labels-count", "subscribe.labels: 33 entries, at most 32")]
    [InlineData("label-key", "subscribe.labels: key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk' has 65 characters, must have 1 to 64 printable characters")]
    [InlineData("label-value", "subscribe.labels['env']: value has 257 characters, at most 256 printable characters")]
    [InlineData("label-control", "subscribe.labels['env']: value has 3 characters, at most 256 printable characters")]
    [InlineData("version", "subscribe.connector_version: 65 characters, at most 64 printable characters")]
    public async Task OversizedLabelsAndConnectorVersionsAreInvalidArgument(string what, string expected)
    {
        var (channel, token) = await shared.NewChannelAsync("labels");
        var subscribe = new Subscribe { Channel = channel };
        switch (what)
        {
            case "labels-count":
                for (var i = 0; i < 33; i++)
                {
                    subscribe.Labels["k" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = "v";
                }

                break;
            case "label-key":
                subscribe.Labels[new string('k', 65)] = "v";
                break;
            case "label-value":
                subscribe.Labels["env"] = new string('v', 257);
                break;
            case "label-control":
                subscribe.Labels["env"] = "a\nb";
                break;
            case "version":
                subscribe.ConnectorVersion = new string('1', 65);
                break;
        }

        var status = await TestConnector.RefusedAsync(shared.Replica.Channel, token, new ConnectRequest { Subscribe = subscribe });

        Assert.Equal((StatusCode.InvalidArgument, expected), (status.StatusCode, status.Detail));
        Assert.Equal(0, await shared.CountAsync(channel, "conns"));
    }

    [Fact]
    public async Task LabelsAndAConnectorVersionAtTheLimitsAreAccepted()
    {
        var (channel, token) = await shared.NewChannelAsync("labels-ok");
        var subscribe = new Subscribe { Channel = channel, ConnectorVersion = new string('1', Limits.MaxConnectorVersionLength) };
        for (var i = 0; i < Limits.MaxLabels; i++)
        {
            var key = i.ToString("d2", System.Globalization.CultureInfo.InvariantCulture) + new string('k', Limits.MaxLabelKeyLength - 2);
            subscribe.Labels[key] = new string('v', Limits.MaxLabelValueLength);
        }

        var headers = new Metadata { { "authorization", "Bearer " + token } };
        using var call = new Contracts.V1.ConnectService.ConnectServiceClient(shared.Replica.Channel).Connect(headers);
        await call.RequestStream.WriteAsync(new ConnectRequest { Subscribe = subscribe });

        Assert.True(await call.ResponseStream.MoveNext().WaitAsync(Patience));
        Assert.Equal(ConnectResponse.FrameOneofCase.Subscribed, call.ResponseStream.Current.FrameCase);
        Assert.Equal(1, await shared.CountAsync(channel, "conns"));
    }

    private async Task<TimeSpan> ProbeRedisAsync(CancellationToken stop)
    {
        var slowest = TimeSpan.Zero;
        while (!stop.IsCancellationRequested)
        {
            var clock = Stopwatch.StartNew();
            await shared.Redis.ExecuteAsync("PING");
            slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return slowest;
    }
}

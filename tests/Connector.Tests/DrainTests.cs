using WebhookConnect.Connector.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests;

/// <summary>SPEC §9 SIGTERM: stop taking messages, finish (or nack) in-flight ones within the grace period, close the
/// stream, exit 0; no message lost, none acked twice.</summary>
public sealed class DrainTests(QueueStack stack) : IClassFixture<QueueStack>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task OnSigtermInFlightDeliveriesFinishAndAreAckedTheRestStaysQueuedForTheNextConnector()
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(200, Delay: TimeSpan.FromSeconds(1));
        var (channel, token) = await stack.CreateChannelAsync("drain");
        var published = await stack.PublishManyAsync(channel, channel, 12);
        var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url(), maxInFlight: 4), ["--drain-grace-period", "00:00:10"], Configs.Token(token));
        await using (connector)
        {
            await Eventually.UntilAsync(() => target.Count == 4, Patience, "4 deliveries in flight");
            connector.Process.Signal(ChildProcess.SigTerm);
            Assert.Equal(0, await connector.Process.WaitForExitAsync(Patience));
        }

        // The four in flight were finished and acked; nothing else was taken.
        var stats = await stack.StatsAsync(channel);
        Assert.Equal((4ul, 0ul, 8u, 0u, 0u), (stats.AckedTotal, stats.NackedTotal, stats.MessagesQueued, stats.MessagesInFlight, stats.DeadLetters));
        Assert.Equal(4, target.Count);

        target.Answer = _ => new TargetAnswer(200);
        await using var next = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()), files: Configs.Token(token));
        stats = await stack.WaitStatsAsync(channel, s => s.AckedTotal == 12, "all 12 messages acked");
        Assert.Equal((12ul, 12ul, 0u), (stats.PublishedTotal, stats.DeliveredTotal, stats.DeadLetters));
        Assert.Equal(published.Select(m => m.MessageId).Order(), target.Requests.Select(r => r.MessageId).Order());
    }

    [Fact]
    public async Task DeliveriesUnfinishedWhenTheGracePeriodEndsAreNackedAndRedeliveredNotLost()
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(200, Delay: TimeSpan.FromSeconds(60));
        var (channel, token) = await stack.CreateChannelAsync("grace");
        var published = await stack.PublishManyAsync(channel, channel, 6);
        var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url(), maxInFlight: 3), ["--drain-grace-period", "00:00:01"], Configs.Token(token));
        await using (connector)
        {
            await Eventually.UntilAsync(() => target.Count == 3, Patience, "3 deliveries in flight");
            connector.Process.Signal(ChildProcess.SigTerm);
            Assert.Equal(0, await connector.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        }

        Assert.Contains("nacking 3 unfinished deliveries", connector.Process.Output, StringComparison.Ordinal);
        var stats = await stack.StatsAsync(channel);
        Assert.Equal((0ul, 3ul, 0u, 0u), (stats.AckedTotal, stats.NackedTotal, stats.MessagesInFlight, stats.DeadLetters));

        var cut = target.Requests.Select(r => r.MessageId).ToList();
        target.Answer = _ => new TargetAnswer(200);
        await using var next = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()), files: Configs.Token(token));
        stats = await stack.WaitStatsAsync(channel, s => s.AckedTotal == 6, "all 6 messages acked");
        Assert.Equal(0u, stats.DeadLetters);
        var secondAttempts = target.Requests.Where(r => r.Attempt == 2).Select(r => r.MessageId).Order().ToList();
        var firstAttempts = target.Requests.Where(r => r.Attempt == 1).Select(r => r.MessageId).ToList();
        Assert.Equal(3, secondAttempts.Count);
        Assert.Equal(published.Select(m => m.MessageId).Order(), firstAttempts.Order());
        Assert.Equal(cut.Order(), secondAttempts);
    }
}

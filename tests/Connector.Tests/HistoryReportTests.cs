using System.Globalization;
using WebhookConnect.Connector.Tests.Support;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests;

/// <summary>
/// The connector's part of the message history (issue 17), with the real connector, queue-manager and an HTTP target:
/// on every protocol it reports what the target answered and how long it took (ack and nack), and a resend reaches the
/// target with <c>X-Webhook-Resend</c>.
/// </summary>
public sealed class HistoryReportTests(QueueStack stack) : IClassFixture<QueueStack>
{
    private static readonly TimeSpan TargetDelay = TimeSpan.FromMilliseconds(150);

    private string HttpAddress => "http://127.0.0.1:" + stack.QueueManager.HttpPort.ToString(CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("grpc")]
    [InlineData("websocket")]
    [InlineData("sse")]
    [InlineData("long-poll")]
    public async Task TheHistoryShowsTheTargetsStatusAndDurationAndAResendCarriesXWebhookResend(string protocol)
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = request => Convert.ToBase64String(request.Body) == Convert.ToBase64String("\"reject\""u8.ToArray())
            ? new TargetAnswer(422, "no", TargetDelay)
            : new TargetAnswer(201, "", TargetDelay);
        var (channel, token) = await stack.CreateChannelAsync("hist-" + protocol);
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()),
            ["--protocol", protocol, "--queue-manager-http", HttpAddress], Configs.Token(token));

        var accepted = await stack.PublishAsync(channel, "orders", "\"accept\""u8.ToArray());
        var rejected = await stack.PublishAsync(channel, "orders", "\"reject\""u8.ToArray());
        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1 && s.DeadLetters == 1, "one ack and one dead letter");

        var acked = (await stack.Admin.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = accepted.MessageId })).Record.Attempts.Single();
        Assert.Equal((AttemptOutcome.Acked, 201u, protocol), (acked.Outcome, acked.TargetStatusCode, acked.Protocol));
        Assert.InRange(acked.TargetDuration.ToTimeSpan(), TargetDelay, TimeSpan.FromSeconds(30));
        var nacked = (await stack.Admin.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = rejected.MessageId })).Record.Attempts.Single();
        Assert.Equal((AttemptOutcome.NackedRejected, 422u), (nacked.Outcome, nacked.TargetStatusCode));
        Assert.InRange(nacked.TargetDuration.ToTimeSpan(), TargetDelay, TimeSpan.FromSeconds(30));
        Assert.StartsWith("HTTP 422", nacked.Error, StringComparison.Ordinal);
        Assert.Null(Assert.Single(target.For(accepted.MessageId)).Header("X-Webhook-Resend"));

        var resent = await stack.Admin.ResendMessageAsync(new ResendMessageRequest { Channel = channel, MessageId = accepted.MessageId });
        Assert.Equal(1u, resent.Resend);
        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 2, "the resend acked");
        var requests = target.For(accepted.MessageId);
        Assert.Equal(2, requests.Count);
        Assert.Equal(("1", 1, "\"accept\""), (requests[1].Header("X-Webhook-Resend"), requests[1].Attempt, System.Text.Encoding.UTF8.GetString(requests[1].Body)));
        var record = (await stack.Admin.GetMessageAsync(new GetMessageRequest { Channel = channel, MessageId = accepted.MessageId })).Record;
        Assert.Equal([(0u, AttemptOutcome.Acked, 201u), (1u, AttemptOutcome.Acked, 201u)], record.Attempts.Select(a => (a.Series, a.Outcome, a.TargetStatusCode)));
    }
}

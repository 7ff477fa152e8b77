using System.Globalization;
using System.Text.RegularExpressions;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>SPEC §10: the queue-manager's metrics on /metrics of the management port.</summary>
public sealed class MetricsTests(SharedQueueManager shared) : IClassFixture<SharedQueueManager>
{
    [Fact]
    public async Task DeliveriesQueueStateConnectionsAndLatenciesAreExported()
    {
        var (channel, token) = await shared.NewChannelAsync("metrics");
        await shared.Replica.Internal.PublishManyAsync(channel, 3);
        await using var connector = await TestConnector.ConnectAsync(shared.Replica.Channel, channel, token);
        var deliveries = await connector.TakeAsync(3);
        await connector.AckAsync(deliveries[0].Message.MessageId, deliveries[1].Message.MessageId);
        await connector.NackAsync(deliveries[2].Message.MessageId, retry: false, "HTTP 400");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{shared.Replica.ManagementPort}") };

        var text = "";
        await Eventually.UntilAsync(
            async () =>
            {
                text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
                return Value(text, "webhookconnect_deliveries_total", channel, "outcome=\"rejected\"") == 1
                    && Value(text, "webhookconnect_queue_messages", channel, "state=\"dead_letter\"") == 1;
            },
            QueueManagerProcess.Patience,
            "the metrics to show the settled deliveries and the refreshed queue gauges");

        Assert.Equal(3, Value(text, "webhookconnect_deliveries_total", channel, "outcome=\"delivered\""));
        Assert.Equal(2, Value(text, "webhookconnect_deliveries_total", channel, "outcome=\"acked\""));
        Assert.Equal(0, Value(text, "webhookconnect_queue_messages", channel, "state=\"queued\""));
        Assert.Equal(0, Value(text, "webhookconnect_queue_messages", channel, "state=\"in_flight\""));
        Assert.Equal(1, Value(text, "webhookconnect_connections", channel, "protocol=\"grpc\""));
        Assert.Equal(2, Value(text, "webhookconnect_end_to_end_seconds_count", channel, null));
        Assert.Matches(new Regex("^webhookconnect_publish_duration_seconds_count\\{[^}]*outcome=\"queued\"[^}]*\\} [1-9]", RegexOptions.Multiline), text);
    }

    private static double? Value(string text, string metric, string channel, string? otherLabel)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(metric + "{", StringComparison.Ordinal)
                && line.Contains($"channel=\"{channel}\"", StringComparison.Ordinal)
                && (otherLabel is null || line.Contains(otherLabel, StringComparison.Ordinal)))
            {
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return null;
    }
}

using System.Globalization;
using WebhookConnect.Connector.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests;

/// <summary>
/// The connector over queue-manager's HTTP/1.1 connector protocols (SPEC §16), end to end with the real processes:
/// each protocol delivers a webhook byte for byte and acks it exactly once; <c>auto</c> behind a proxy that only speaks
/// HTTP/1.1 falls back to WebSocket, and goes back to gRPC once the proxy lets HTTP/2 through.
/// </summary>
public sealed class Http1ProtocolTests(QueueStack stack) : IClassFixture<QueueStack>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    private string HttpAddress => "http://127.0.0.1:" + stack.QueueManager.HttpPort.ToString(CultureInfo.InvariantCulture);

    /// <summary>A body that is neither UTF-8 nor JSON, so it travels as base64 and must come out byte-identical.</summary>
    private static readonly byte[] BinaryBody = [0x00, 0xff, 0xfe, 0x7b, 0x22, 0x80, 0x0a, 0x0d, 0xc3, 0x28];

    [Theory]
    [InlineData("websocket")]
    [InlineData("sse")]
    [InlineData("long-poll")]
    public async Task AWebhookIsDeliveredOverTheProtocolByteForByteAndAckedExactlyOnce(string protocol)
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("h1-" + protocol);
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()),
            ["--protocol", protocol, "--queue-manager-http", HttpAddress], Configs.Token(token));

        var json = await stack.PublishAsync(channel, "orders", """{"order":42}"""u8.ToArray(), m => m.ContentType = "application/json");
        var binary = await stack.PublishAsync(channel, "orders", BinaryBody, m => m.ContentType = "application/octet-stream");

        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 2 && s.MessagesInFlight == 0 && s.MessagesQueued == 0, "both messages acked");
        Assert.Equal("""{"order":42}"""u8.ToArray(), Assert.Single(target.For(json.MessageId)).Body);
        var received = Assert.Single(target.For(binary.MessageId));
        Assert.Equal(BinaryBody, received.Body);
        Assert.Equal(channel, received.Header("X-Webhook-Channel"));
        Assert.Equal("orders", received.Header("X-Webhook-Endpoint"));
        Assert.Equal(1, received.Attempt);
        var stats = await stack.StatsAsync(channel);
        Assert.Equal(2UL, stats.DeliveredTotal);
        Assert.Equal(0UL, stats.NackedTotal);
        Assert.Contains($"webhookconnect_connector_protocol_info{{channel=\"{channel}\",protocol=\"{protocol}\"}} 1", await connector.MetricsAsync(), StringComparison.Ordinal);
        Assert.Contains($"Subscribed to channel {channel} over {protocol}", connector.Process.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("websocket")]
    [InlineData("sse")]
    [InlineData("long-poll")]
    public async Task ARejectedWebhookIsNackedWithoutRetryAndDeadLetteredWithTheTargetsAnswer(string protocol)
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(422, "bad order");
        var (channel, token) = await stack.CreateChannelAsync("h1-nack-" + protocol);
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()),
            ["--protocol", protocol, "--queue-manager-http", HttpAddress], Configs.Token(token));

        var message = await stack.PublishAsync(channel, "orders", "{}"u8.ToArray());

        await stack.WaitStatsAsync(channel, s => s.DeadLetters == 1, "the message dead-lettered");
        var dead = Assert.Single(await stack.DeadLettersAsync(channel));
        Assert.Equal(message.MessageId, dead.Message.MessageId);
        // The reason travels in the WebSocket nack frame, or as POST /connect/ack's reason parameter (SSE, long-poll).
        Assert.Contains("HTTP 422", dead.LastError, StringComparison.Ordinal);

        Assert.Single(target.For(message.MessageId));
    }

    [Fact]
    public async Task AutoFallsBackToWebSocketBehindAnHttp1OnlyProxyAndReturnsToGrpcOnceHttp2GetsThrough()
    {
        await using var proxy = Http1OnlyProxy.Start(stack.QueueManager.HttpPort);
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("h1-auto");
        var through = "http://127.0.0.1:" + proxy.Port.ToString(CultureInfo.InvariantCulture);
        await using var connector = await ConnectorProcess.StartReadyAsync(proxy.Port, Configs.Single(channel, target.Url()),
            ["--queue-manager-http", through], Configs.Token(token));

        Assert.True(proxy.RefusedHttp2 >= 1, "the gRPC handshake never reached the proxy");
        Assert.Contains($"Channel {channel}: gRPC does not get through to queue-manager", connector.Process.Output, StringComparison.Ordinal);
        Assert.Contains($"Channel {channel} uses protocol websocket (auto: gRPC handshake failed: ", connector.Process.Output, StringComparison.Ordinal);
        var viaWebSocket = await stack.PublishAsync(channel, "orders", "{\"via\":\"websocket\"}"u8.ToArray());
        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1 && s.MessagesInFlight == 0, "the message acked over WebSocket");
        Assert.Single(target.For(viaWebSocket.MessageId));
        Assert.Contains($"webhookconnect_connector_protocol_info{{channel=\"{channel}\",protocol=\"websocket\"}} 1", await connector.MetricsAsync(), StringComparison.Ordinal);

        // The proxy is gone (HTTP/2 now passes to the gRPC port); the next connection is gRPC again.
        proxy.PassHttp2To(stack.Port);
        proxy.DropConnections();
        await Eventually.UntilAsync(
            async () => (await connector.MetricsAsync()).Contains($"webhookconnect_connector_protocol_info{{channel=\"{channel}\",protocol=\"grpc\"}} 1", StringComparison.Ordinal),
            Patience, "the connector back on gRPC");
        await connector.WaitReadyAsync();
        var viaGrpc = await stack.PublishAsync(channel, "orders", "{\"via\":\"grpc\"}"u8.ToArray());
        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 2 && s.MessagesInFlight == 0, "the message acked over gRPC");
        Assert.Single(target.For(viaGrpc.MessageId));
        Assert.Single(target.For(viaWebSocket.MessageId));
        Assert.Contains($"Channel {channel} uses protocol grpc (auto: HTTP/2 gets through)", connector.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AutoUsesGrpcWhenNothingBlocksHttp2()
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("h1-direct");
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()),
            ["--queue-manager-http", HttpAddress], Configs.Token(token));

        var message = await stack.PublishAsync(channel, "orders", "{}"u8.ToArray());

        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1, "the message acked");
        Assert.Single(target.For(message.MessageId));
        Assert.Contains($"webhookconnect_connector_protocol_info{{channel=\"{channel}\",protocol=\"grpc\"}} 1", await connector.MetricsAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("falling back to WebSocket", connector.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWrongTokenOverWebSocketIsReportedAsARefusal()
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, _) = await stack.CreateChannelAsync("h1-auth");
        await using var connector = ConnectorProcess.Start(stack.Port, Configs.Single(channel, target.Url()),
            ["--protocol", "websocket", "--queue-manager-http", HttpAddress, "--set", "reconnect:auth_failure_delay=00:00:30"], Configs.Token("wrong-token-0123456789abcdef"));

        await connector.Process.WaitForLineAsync(line => line.Contains($"QUEUE-MANAGER REFUSED channel {channel}: Unauthenticated", StringComparison.Ordinal), Patience);
        Assert.DoesNotContain("wrong-token-0123456789abcdef", connector.Process.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("websocket")]
    [InlineData("sse")]
    [InlineData("long-poll")]
    public async Task OnSigtermDeliveriesInFlightFinishAndAreAckedAndNothingIsLost(string protocol)
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(200, Delay: TimeSpan.FromSeconds(1));
        // WebSocket and SSE have no credit message: the channel's max_in_flight is the limit there.
        var (channel, token) = await stack.CreateChannelAsync("h1-drain", new Dictionary<string, string> { ["max_in_flight"] = "4" });
        var published = await stack.PublishManyAsync(channel, "orders", 12);
        var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url(), maxInFlight: 4),
            ["--protocol", protocol, "--queue-manager-http", HttpAddress, "--drain-grace-period", "00:00:10"], Configs.Token(token));
        await using (connector)
        {
            await Eventually.UntilAsync(() => target.Count == 4, Patience, "4 deliveries in flight");
            connector.Process.Signal(ChildProcess.SigTerm);
            Assert.Equal(0, await connector.Process.WaitForExitAsync(Patience));
        }

        // The four in flight were finished and acked; no other message reached the target during the drain.
        var stats = await stack.StatsAsync(channel);
        Assert.Equal((4ul, 0u, 0u), (stats.AckedTotal, stats.MessagesInFlight, stats.DeadLetters));
        Assert.Equal(4, target.Count);

        target.Answer = _ => new TargetAnswer(200);
        await using var next = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()),
            ["--protocol", protocol, "--queue-manager-http", HttpAddress], Configs.Token(token));
        stats = await stack.WaitStatsAsync(channel, s => s.AckedTotal == 12, "all 12 messages acked");
        Assert.Equal(0u, stats.DeadLetters);
        Assert.Equal(published.Select(m => m.MessageId).Order(), target.Requests.Select(r => r.MessageId).Distinct().Order());
        Assert.Equal(4, target.Requests.Take(4).Select(r => r.MessageId).Distinct().Count());
    }

    [Fact]
    public async Task AfterARotationTheOldTokensWebSocketIsClosedWhenTheGraceEndsAndTheNewTokenFromTheFileIsUsedAtOnce()
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("h1-rotate");
        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()),
            ["--protocol", "websocket", "--queue-manager-http", HttpAddress, "--set", "reconnect:auth_failure_delay=00:01:00"], Configs.Token(token));

        var rotated = await stack.Admin.RotateTokenAsync(new Contracts.Admin.V1.RotateTokenRequest { Channel = channel, GracePeriodSeconds = 2 });
        await File.WriteAllTextAsync(Path.Combine(connector.Directory, "token"), rotated.NewToken);

        // The grace ends: queue-manager closes the old token's WebSocket (4001); the connector reads the file again.
        await connector.Process.WaitForLineAsync(line => line.Contains($"QUEUE-MANAGER REFUSED channel {channel}: Unauthenticated", StringComparison.Ordinal), Patience);
        await connector.Process.WaitForLineAsync(line => line.Contains($"The token of channel {channel} changed; reconnecting now", StringComparison.Ordinal), Patience);
        await connector.WaitReadyAsync();
        var message = await stack.PublishAsync(channel, "orders", "{}"u8.ToArray());
        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1, "the message acked on the new token's connection", TimeSpan.FromSeconds(30));
        Assert.Single(target.For(message.MessageId));
    }

    [Theory]
    [InlineData("websocket", "WebSocket closed by queue-manager (4003 Max connections reached)")]
    [InlineData("sse", "max_connections_reached")]
    public async Task BeyondMaxConnectionsTheRefusalIsReportedAsResourceExhaustedAndRetriedWithBackoff(string protocol, string detail)
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync("h1-max", new Dictionary<string, string> { ["max_connections"] = "1" });
        await using var first = await ConnectorProcess.StartReadyAsync(stack.Port, Configs.Single(channel, target.Url()), files: Configs.Token(token));
        await using var second = ConnectorProcess.Start(stack.Port, Configs.Single(channel, target.Url()),
            ["--protocol", protocol, "--queue-manager-http", HttpAddress], Configs.Token(token));

        var refused = $"Stream of channel {channel} ended (ResourceExhausted: ";
        await second.Process.WaitForLineAsync(line => line.Contains(refused, StringComparison.Ordinal) && line.Contains(detail, StringComparison.Ordinal), Patience);
        await Eventually.UntilAsync(() => second.Process.Output.Split('\n').Count(line => line.Contains(refused, StringComparison.Ordinal)) >= 2, Patience, "a second attempt");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, await second.ReadyStatusAsync());
        Assert.Equal(1u, (await stack.StatsAsync(channel)).Connections);
    }
}

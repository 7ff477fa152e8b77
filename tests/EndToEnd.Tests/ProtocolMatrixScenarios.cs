using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.EndToEnd.Tests;

/// <summary>
/// SCENARIOS.md S4 (token rotation), S8 (flaky target and dead letters) and S9 (leases), and exact header bytes, with
/// our real connector process on each protocol (issue 16, "Prove it"; SPEC §16): the matrix is the theories' data
/// (S1 and S2 over HTTP/1.1: <see cref="Http1ProtocolScenarios"/>; over gRPC: <see cref="DeliveryScenarios"/>). Every test starts its own
/// connectors and targets on a channel of its own, on one cloud-side stack shared by the class (fresh channels stand
/// in for the empty Redis of each scenario, and save about 5 s of process start-ups per case).
/// </summary>
public sealed class ProtocolMatrixScenarios(ProtocolMatrixScenarios.SharedStack shared) : IClassFixture<ProtocolMatrixScenarios.SharedStack>
{
    /// <summary>Connector YAML (top level) turning local retries off, so every failed call is one cloud attempt.</summary>
    private const string NoLocalRetries = "retry:\n  attempts: 0\n";

    /// <summary>Each protocol our connector speaks (<c>--protocol</c>).</summary>
    public static TheoryData<string> EveryProtocol => ["grpc", "websocket", "sse", "long-poll"];

    /// <summary>The HTTP/1.1 protocols, for what the suite already checks with our connector over gRPC
    /// (<see cref="LifecycleScenarios"/>' S8 runs the real connector).</summary>
    public static TheoryData<string> Http1Protocols => ["websocket", "sse", "long-poll"];

    /// <summary>The protocols whose connection is long-lived. A long-poll connection is one poll: once its answer is
    /// written, its leases belong to its connection id until ack, nack or the ack timeout (issue 16's defect fix),
    /// so a connector that goes away between polls has nothing to release at once (docs/queue-manager.md).</summary>
    public static TheoryData<string> StreamingProtocols => ["grpc", "websocket", "sse"];

    private ScenarioStack Stack => shared.Stack;

    [Theory]
    [MemberData(nameof(EveryProtocol))]
    public async Task S4_TheOldTokensConnectorDeliversDuringTheGraceIsClosedWhenItEndsAndTheNewTokensConnectorCarriesOn(string protocol)
    {
        var channel = "s4-" + protocol;
        var oldToken = await Stack.CreateChannelAsync(channel, [channel]);
        await using var oldTarget = await Stack.StartTargetAsync();
        // After its refusal the old connector waits a minute before trying again, so the test sees one refusal.
        await using var onOld = await Stack.StartConnectorAsync(channel, oldToken, oldTarget,
            extraYaml: Yaml(protocol) + "reconnect:\n  auth_failure_delay: \"00:01:00\"\n");

        var rotated = await Stack.AdminClient.RotateTokenAsync(new RotateTokenRequest { Channel = channel, GracePeriodSeconds = 3 }, ScenarioStack.AdminHeaders);
        var expiresAt = rotated.PreviousTokenExpiresAt.ToDateTimeOffset();
        // Watched from now on: the moment the old connector hears that its connection is refused.
        var oldRefusedAt = RefusedAtAsync(onOld, channel);

        var duringGrace = await Stack.PostWebhookAsync(channel, 1, 2);
        Assert.Equal(HttpStatusCode.OK, duringGrace.Status);
        await Eventually.UntilAsync(() => oldTarget.Count >= 1, ScenarioStack.Patience, $"the webhook sent during the grace delivered over {protocol} with the old token");
        Assert.True(oldTarget.Requests[0].At < expiresAt, $"delivered at {oldTarget.Requests[0].At:O}, after the grace ended ({expiresAt:O})");

        await using var newTarget = await Stack.StartTargetAsync();
        await using var onNew = await Stack.StartConnectorAsync(channel, rotated.NewToken, newTarget, extraYaml: Yaml(protocol));
        var closedAt = await oldRefusedAt.WaitAsync(ScenarioStack.Patience);
        Assert.True(closedAt >= expiresAt.AddMilliseconds(-250), $"the old token's connection was refused at {closedAt:O}, before the grace ended ({expiresAt:O})");

        var afterGrace = await Stack.PostWebhookAsync(channel, 2, 2);
        Assert.Equal(HttpStatusCode.OK, afterGrace.Status);
        var stats = await Stack.WaitForStatsAsync(channel, s => s.AckedTotal == 2, "both webhooks acked");

        DeliveryScenarios.AssertDeliveredExactly(oldTarget, [duringGrace]);
        var carriedOn = Assert.Single(newTarget.Requests);
        Assert.Equal((afterGrace.MessageId, 1), (carriedOn.MessageId, carriedOn.Attempt));
        Assert.Equal(afterGrace.SentBody, carriedOn.Body);
        Assert.Equal((2ul, 0u, 0u), (stats.DeliveredTotal, stats.MessagesInFlight, stats.MessagesQueued));
        Assert.Equal(200, (await onNew.ReadyStatusAsync()) is { } ready ? (int)ready : 0);
    }

    [Theory]
    [MemberData(nameof(Http1Protocols))]
    public async Task S8_A500IsRetriedUntilMaxDeliveryAttemptsThenDeadLetteredAndA400IsDeadLetteredAtOnce(string protocol)
    {
        var channel = "s8-" + protocol;
        var token = await Stack.CreateChannelAsync(channel, [channel], LifecycleScenarios.ShortBackoff(maxAttempts: 3));
        await using var target = await Stack.StartTargetAsync();
        // Webhook 1: 500 twice, then 200. Webhook 2: always 500. Webhook 3: 400.
        target.Answer = r => r.Header("X-Scenario-Sequence") switch
        {
            "1" => new TargetAnswer(r.Attempt <= 2 ? 500 : 200),
            "2" => new TargetAnswer(500, "down"),
            _ => new TargetAnswer(400, "bad payload"),
        };
        await using var connector = await Stack.StartConnectorAsync(channel, token, target, extraYaml: Yaml(protocol) + NoLocalRetries);

        var replies = new List<WebhookReply>();
        for (var i = 1; i <= 3; i++)
        {
            replies.Add(await Stack.PostWebhookAsync(channel, i, 3));
        }

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        var stats = await Stack.WaitForStatsAsync(channel, s => s.AckedTotal == 1 && s.DeadLetters == 2 && s.MessagesInFlight == 0 && s.MessagesDelayed == 0, "1 acked, 2 dead letters");

        var (flaky, down, rejected) = (replies[0], replies[1], replies[2]);
        Assert.Equal([1, 2, 3], target.For(flaky.MessageId).Select(r => r.Attempt));
        Assert.Equal([1, 2, 3], target.For(down.MessageId).Select(r => r.Attempt));
        Assert.Equal([1], target.For(rejected.MessageId).Select(r => r.Attempt));
        Assert.All(replies, reply => Assert.All(target.For(reply.MessageId), r => Assert.Equal(reply.SentBody, r.Body)));
        Assert.Equal(7, target.Count);

        var letters = (await Stack.AdminClient.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = channel }, ScenarioStack.AdminHeaders)).Messages
            .OrderBy(d => d.Message.MessageId == down.MessageId ? 0 : 1)
            .ToList();
        Assert.Equal(
            [(down.MessageId, DeadLetterReason.MaxAttempts, 3u, "HTTP 500: down"), (rejected.MessageId, DeadLetterReason.Rejected, 1u, "HTTP 400: bad payload")],
            letters.Select(d => (d.Message.MessageId, d.Reason, d.Attempts, d.LastError)));
        // The HTTP/1.1 nack (frame or POST /connect/ack) carries the target's status as a field of its own (status_code).
        Assert.Equal([500u, 400u], letters.Select(d => d.LastStatusCode));
        Assert.Equal((1ul, 2ul, 2u, 7ul, 0u), (stats.AckedTotal, stats.DeadLetteredTotal, stats.DeadLetters, stats.DeliveredTotal, stats.MessagesQueued));
    }

    [Theory]
    [MemberData(nameof(EveryProtocol))]
    public async Task S9_AMessageLeftUnackedPastTheAckTimeoutIsRedeliveredAfterEachTimeoutUntilTheOtherConnectionTakesIt(string protocol)
    {
        var ackTimeout = TimeSpan.FromSeconds(2);
        var channel = "s9-timeout-" + protocol;
        var settings = LifecycleScenarios.ShortBackoff(ackTimeout: ackTimeout);
        settings.MaxInFlight = 1;
        var token = await Stack.CreateChannelAsync(channel, [channel], settings);
        var (a, b) = (await Stack.StartTargetAsync(), await Stack.StartTargetAsync());
        await using var targetA = a;
        await using var targetB = b;
        // The target that gets the first attempt never answers (until the test ends), whatever attempt comes to it;
        // the other answers 200. Which connection takes the redelivery after a lease expires is not fixed: the
        // holder's credit comes back a margin after the deadline ((2 × SweepInterval) + 1 s), the sweep makes the
        // message ready at about the deadline, and on a loaded machine either may come first. So the holder may take
        // attempt 2 (and hang again) before the other takes attempt n + 1: every step is still exact.
        TargetServer? holder = null;
        Func<ReceivedRequest, TargetAnswer> HangingOnceHeld(TargetServer target) => _ =>
            Interlocked.CompareExchange(ref holder, target, null) is null || holder == target
                ? new TargetAnswer(200, Delay: TimeSpan.FromMinutes(2))
                : new TargetAnswer(200);
        targetA.Answer = HangingOnceHeld(targetA);
        targetB.Answer = HangingOnceHeld(targetB);
        var yaml = "    max_in_flight: 1\n" + Yaml(protocol) + NoLocalRetries;
        await using var connectorA = await Stack.StartConnectorAsync(channel, token, targetA, extraYaml: yaml);
        await using var connectorB = await Stack.StartConnectorAsync(channel, token, targetB, extraYaml: yaml);

        var reply = await Stack.PostWebhookAsync(channel, 1, 1);
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        var stats = await Stack.WaitForStatsAsync(channel, s => s.AckedTotal == 1, "the redelivery acked by the other connection");

        var held = Assert.IsType<TargetServer>(holder);
        var other = held == targetA ? targetB : targetA;
        var heldAttempts = held.Requests.ToList();
        var taken = Assert.Single(other.Requests);
        Assert.Equal(Enumerable.Range(1, heldAttempts.Count), heldAttempts.Select(r => r.Attempt));
        Assert.All(heldAttempts, r => Assert.Equal(reply.MessageId, r.MessageId));
        Assert.Equal((reply.MessageId, heldAttempts.Count + 1), (taken.MessageId, taken.Attempt));
        Assert.Equal(reply.SentBody, taken.Body);
        var times = heldAttempts.Select(r => r.At).Append(taken.At).ToList();
        for (var i = 1; i < times.Count; i++)
        {
            Assert.True(times[i] - times[i - 1] >= ackTimeout - TimeSpan.FromMilliseconds(300), $"attempt {i + 1} came {times[i] - times[i - 1]} after attempt {i}, before the ack timeout {ackTimeout}");
        }

        var expired = (ulong)heldAttempts.Count;
        Assert.Equal((expired, expired + 1, 0u, 0u), (stats.LeaseExpiredTotal, stats.DeliveredTotal, stats.MessagesQueued, stats.DeadLetters));
    }

    [Theory]
    [MemberData(nameof(StreamingProtocols))]
    public async Task S9_AConnectorWhoseConnectionDropsHasItsUnackedMessageRedeliveredAtOnceAsAttempt2ToTheOther(string protocol)
    {
        var ackTimeout = TimeSpan.FromSeconds(60);
        var channel = "s9-drop-" + protocol;
        var settings = LifecycleScenarios.ShortBackoff(ackTimeout: ackTimeout);
        settings.MaxInFlight = 1;
        var token = await Stack.CreateChannelAsync(channel, [channel], settings);
        var (a, b) = (await Stack.StartTargetAsync(), await Stack.StartTargetAsync());
        await using var targetA = a;
        await using var targetB = b;
        TargetAnswer HangOnFirstAttempt(ReceivedRequest r) => r.Attempt == 1 ? new TargetAnswer(200, Delay: TimeSpan.FromMinutes(2)) : new TargetAnswer(200);
        targetA.Answer = HangOnFirstAttempt;
        targetB.Answer = HangOnFirstAttempt;
        var yaml = "    max_in_flight: 1\n" + Yaml(protocol) + NoLocalRetries;
        await using var connectorA = await Stack.StartConnectorAsync(channel, token, targetA, extraYaml: yaml);
        await using var connectorB = await Stack.StartConnectorAsync(channel, token, targetB, extraYaml: yaml);

        var reply = await Stack.PostWebhookAsync(channel, 1, 1);
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        await Eventually.UntilAsync(() => targetA.Count + targetB.Count >= 1, ScenarioStack.Patience, "the webhook at one target");
        var (held, other, holder) = targetA.Count == 1 ? (targetA, targetB, connectorA) : (targetB, targetA, connectorB);

        // The holder's process dies: its connection drops without an ack, a nack or a goodbye.
        holder.Process.Signal(ChildProcess.SigKill);
        var droppedAt = Stopwatch.StartNew();
        await Eventually.UntilAsync(() => other.Count >= 1, ScenarioStack.Patience, "the dropped connection's message at the other target");
        var waited = droppedAt.Elapsed;
        var stats = await Stack.WaitForStatsAsync(channel, s => s.AckedTotal == 1, "the redelivery acked");

        Assert.True(waited < TimeSpan.FromSeconds(10), $"redelivered {waited} after the drop (the ack timeout is {ackTimeout})");
        var first = Assert.Single(held.Requests);
        var second = Assert.Single(other.Requests);
        Assert.Equal((reply.MessageId, 1), (first.MessageId, first.Attempt));
        Assert.Equal((reply.MessageId, 2), (second.MessageId, second.Attempt));
        Assert.Equal(reply.SentBody, second.Body);
        Assert.Equal((0ul, 2ul, 0u, 0u), (stats.LeaseExpiredTotal, stats.DeliveredTotal, stats.MessagesInFlight, stats.MessagesQueued));
    }

    [Theory]
    [MemberData(nameof(EveryProtocol))]
    public async Task HeaderValuesWithBytesOutsideUtf8AndRepeatedNamesReachTheTargetByteForByte(string protocol)
    {
        var channel = "bytes-" + protocol;
        var token = await Stack.CreateChannelAsync(channel, [channel]);
        await using var target = await Stack.StartTargetAsync();
        await using var connector = await Stack.StartConnectorAsync(channel, token, target, extraYaml: Yaml(protocol));
        byte[] latin1 = [.. "caf"u8, 0xE9];
        byte[] obsText = [0x80, 0xFF, (byte)' ', 0xA0, .. "end"u8];
        var utf8 = "café ✓"u8.ToArray();
        var body = ScenarioStack.WebhookBody(1, 1);

        // A raw socket: HttpClient would re-encode the values and join the repeated name itself.
        var (status, reply) = await RawHttp.ExchangeAsync(Stack.Ingress.Port, "/webhook/" + channel, body,
        [
            ("Content-Type", "application/json"u8.ToArray()),
            ("X-Latin1", latin1),
            ("X-Repeated", "first"u8.ToArray()),
            ("X-Utf8", utf8),
            ("X-Repeated", "second, with a comma"u8.ToArray()),
            ("X-Obs-Text", obsText),
            ("X-Repeated", latin1),
        ]);
        Assert.StartsWith("HTTP/1.1 200", status, StringComparison.Ordinal);
        var messageId = JsonDocument.Parse(reply).RootElement.GetProperty("message_id").GetString();
        await Stack.WaitForStatsAsync(channel, s => s.AckedTotal == 1, "the webhook acked");

        var received = Assert.Single(target.Requests);
        Assert.Equal(messageId, received.MessageId);
        Assert.Equal(body, received.Body);
        Assert.Equal(latin1, Bytes(received, "X-Latin1"));
        Assert.Equal(utf8, Bytes(received, "X-Utf8"));
        Assert.Equal(obsText, Bytes(received, "X-Obs-Text"));
        // A repeated name reaches the target as one field, its values in order joined with ", " (docs/connector.md).
        Assert.Equal([.. "first, second, with a comma, "u8, .. latin1], Bytes(received, "X-Repeated"));
    }

    /// <summary>The bytes of the one field <paramref name="name"/> as the target read it (its header encoding is
    /// Latin-1: one char per byte).</summary>
    private static byte[] Bytes(ReceivedRequest request, string name) => Encoding.Latin1.GetBytes(Assert.Single(request.HeaderValues(name)));

    /// <summary>Connector YAML (top level) choosing the protocol; the HTTP/1.1 ones dial queue-manager's HTTP/1.1 port.</summary>
    private string Yaml(string protocol) => protocol == "grpc"
        ? "queue_manager:\n  protocol: grpc\n"
        : $"queue_manager:\n  protocol: {protocol}\n  http_address: \"http://127.0.0.1:{Stack.QueueManager.HttpPort.ToString(CultureInfo.InvariantCulture)}\"\n";

    /// <summary>When the connector logs that queue-manager refused the channel's token (its connection was closed).</summary>
    private static async Task<DateTimeOffset> RefusedAtAsync(ConnectorProcess connector, string channel)
    {
        await connector.Process.WaitForLineAsync(line => line.Contains($"QUEUE-MANAGER REFUSED channel {channel}: Unauthenticated", StringComparison.Ordinal), ScenarioStack.Patience);
        return DateTimeOffset.UtcNow;
    }

    /// <summary>The cloud side (Redis, queue-manager, admin, ingress) for the whole class.</summary>
    public sealed class SharedStack : IAsyncLifetime
    {
        public ScenarioStack Stack { get; private set; } = null!;

        public async ValueTask InitializeAsync() => Stack = await ScenarioStack.StartAsync();

        public async ValueTask DisposeAsync() => await Stack.DisposeAsync();
    }
}

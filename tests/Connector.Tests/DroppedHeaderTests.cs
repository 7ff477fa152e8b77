using System.Text;
using Google.Protobuf;
using WebhookConnect.Connector.Tests.Support;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Tests;

/// <summary>Issue 20, finding 10: sender headers that carry credentials, claim where a request came from, or reroute
/// it inside a framework never reach the local target; the list is the operator's to replace or extend. Real
/// redis-server, queue-manager and connector processes and a recording Kestrel target.</summary>
public sealed class DroppedHeaderTests(QueueStack stack) : IClassFixture<QueueStack>
{
    /// <summary>What an attacker who can reach the public endpoint would send, beside ordinary webhook headers.</summary>
    private static readonly (string Name, byte[] Value)[] Sent =
    [
        ("Content-Type", "application/json"u8.ToArray()),
        ("X-Hub-Signature-256", "sha256=0123abcd"u8.ToArray()),
        ("Webhook-Id", "msg_1"u8.ToArray()),
        ("X-Latin", [0x63, 0x61, 0x66, 0xe9, 0x80, 0xff]),
        ("User-Agent", "GitHub-Hookshot/abc"u8.ToArray()),
        ("X-Forwardedness", "no dash after Forwarded: not the prefix, kept"u8.ToArray()),
        ("Authorization", "Bearer endpoint-secret"u8.ToArray()),
        ("Cookie", "session=admin"u8.ToArray()),
        ("Forwarded", "for=10.0.0.1;host=internal"u8.ToArray()),
        ("X-Forwarded-For", "10.0.0.1"u8.ToArray()),
        ("x-forwarded-proto", "https"u8.ToArray()),
        ("X-Forwarded-Host", "admin.internal"u8.ToArray()),
        ("X-Real-IP", "127.0.0.1"u8.ToArray()),
        ("True-Client-IP", "127.0.0.1"u8.ToArray()),
        ("X-HTTP-Method-Override", "DELETE"u8.ToArray()),
        ("X-HTTP-Method", "DELETE"u8.ToArray()),
        ("X-Method-Override", "DELETE"u8.ToArray()),
        ("X-Original-URL", "/admin/delete-all"u8.ToArray()),
        ("X-Rewrite-URL", "/admin/delete-all"u8.ToArray()),
        ("Proxy-Authorization", "Basic cHJveHk6c2VjcmV0"u8.ToArray()),
    ];

    private static readonly string[] DroppedByDefault =
    [
        "Authorization", "Cookie", "Forwarded", "X-Forwarded-For", "x-forwarded-proto", "X-Forwarded-Host", "X-Real-IP", "True-Client-IP",
        "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "X-Original-URL", "X-Rewrite-URL", "Proxy-Authorization",
    ];

    [Fact]
    public async Task CredentialForwardingAndOverrideHeadersAreNotDeliveredAndEveryOtherHeaderArrivesByteIdentical()
    {
        var request = await DeliverAsync("drop-default", extraConfig: "", args: []);

        foreach (var name in DroppedByDefault)
        {
            Assert.True(request.Header(name) is null, $"{name} reached the target: {request.Header(name)}");
        }

        AssertKeptByteIdentical(request, Sent.Where(h => !DroppedByDefault.Contains(h.Name, StringComparer.OrdinalIgnoreCase)));
    }

    [Fact]
    public async Task AConfiguredListReplacesTheDefaultAndAnAddedListExtendsIt()
    {
        // The file replaces the list (Authorization and the X-Forwarded-* family now pass: a target behind a proxy
        // the operator trusts), the command line adds one name; Proxy-Authorization is hop-by-hop and never passes.
        var request = await DeliverAsync("drop-configured", extraConfig: "drop_headers: \"Cookie, X-HTTP-Method*\"", args: ["--also-drop-headers", "User-Agent"]);

        string[] dropped = ["Cookie", "X-HTTP-Method-Override", "X-HTTP-Method", "User-Agent", "Proxy-Authorization"];
        foreach (var name in dropped)
        {
            Assert.True(request.Header(name) is null, $"{name} reached the target: {request.Header(name)}");
        }

        AssertKeptByteIdentical(request, Sent.Where(h => !dropped.Contains(h.Name, StringComparer.OrdinalIgnoreCase)));
        Assert.Equal("Bearer endpoint-secret", request.Header("Authorization"));
        Assert.Equal("10.0.0.1", request.Header("X-Forwarded-For"));
    }

    [Fact]
    public async Task NoneDropsNoSenderHeaderButATargetsOwnHeadersStillWin()
    {
        var request = await DeliverAsync("drop-none", extraConfig: "drop_headers: none", args: [], targetHeaders: "Authorization: Bearer target-own");

        AssertKeptByteIdentical(request, Sent.Where(h => h.Name is not ("Proxy-Authorization" or "Authorization")));
        Assert.Equal("Bearer target-own", Assert.Single(request.HeaderValues("Authorization")));
    }

    private async Task<ReceivedRequest> DeliverAsync(string prefix, string extraConfig, string[] args, string? targetHeaders = null)
    {
        await using var target = await TargetServer.StartAsync();
        var (channel, token) = await stack.CreateChannelAsync(prefix);
        var config = Configs.Single(channel, target.Url("/in"), extraConfig);
        if (targetHeaders is not null)
        {
            config = config.Replace("      timeout: \"00:00:05\"", $"      timeout: \"00:00:05\"\n      headers:\n        {targetHeaders}", StringComparison.Ordinal);
        }

        await using var connector = await ConnectorProcess.StartReadyAsync(stack.Port, config, args, files: Configs.Token(token));
        var body = "{\"action\":\"opened\"}"u8.ToArray();
        await stack.PublishAsync(channel, channel, body, m =>
        {
            m.Headers.Clear();
            foreach (var (name, value) in Sent)
            {
                m.Headers.Add(new Header { Name = name, Value = ByteString.CopyFrom(value) });
            }
        });

        await stack.WaitStatsAsync(channel, s => s.AckedTotal == 1, "the message to be acked");
        var request = Assert.Single(target.Requests);
        Assert.Equal(body, request.Body);
        return request;
    }

    private static void AssertKeptByteIdentical(ReceivedRequest request, IEnumerable<(string Name, byte[] Value)> kept)
    {
        foreach (var (name, value) in kept)
        {
            // The target reads header values as Latin-1, one char per byte on the wire.
            var received = request.Header(name);
            Assert.True(received is not null, $"{name} did not reach the target");
            Assert.Equal(value, Encoding.Latin1.GetBytes(received!));
        }
    }
}

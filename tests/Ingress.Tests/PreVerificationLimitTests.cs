using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Tests.Support;
using SenderVerification = WebhookConnect.Contracts.V1.Verification;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// Issue 20, finding 4: whoever knows an endpoint's URL but not its secret cannot spend the endpoint's rate limit
/// (only verified requests are charged to it); their failed verifications spend a bucket of their own, per
/// (endpoint, source), and once it is empty they get 429 + Retry-After before their bodies are read. Real processes;
/// the attacker is a second loopback address (127.0.0.2) or a forwarded address behind a trusted proxy.
/// </summary>
public sealed class PreVerificationLimitTests(PreVerificationLimitTests.Stack fixture) : IClassFixture<PreVerificationLimitTests.Stack>
{
    private const string Secret = "github-webhook-secret-for-the-limit-tests";

    private static readonly byte[] Body = Encoding.UTF8.GetBytes("{\"action\":\"opened\",\"number\":1}");

    private IngressStack Ingress => fixture.Ingress;

    [Fact]
    public async Task AnAttackerWithoutTheSecretGets401Then429FromItsOwnLimitAndTheGenuineSenderKeepsTheEndpointsRate()
    {
        // The endpoint admits 3 verified requests at once, then one per 5 s.
        var channel = await Ingress.NewChannelAsync("flooded", endpoint: e =>
        {
            e.Verification = new SenderVerification { Github = new SenderVerification.Types.GitHub { Secret = Secret } };
            e.RateLimit = new RateLimit { RequestsPerSecond = 0.2, Burst = 3 };
        });
        using var attacker = ClientFrom(IPAddress.Parse("127.0.0.2"));
        var path = $"/webhook/{channel}";

        // 20 forged requests: the source's 5 failures, then refusals before verification. Then the genuine sender's
        // 3 signed requests, with the attacker still at it between them, and a 4th beyond the endpoint's burst.
        var forged = new List<(HttpStatusCode Status, TimeSpan? RetryAfter)>();
        for (var i = 0; i < 20; i++)
        {
            forged.Add(await PostAsync(attacker, path, Body, "sha256=" + new string('0', 64)));
        }

        var genuine = new List<(HttpStatusCode Status, TimeSpan? RetryAfter)>();
        for (var i = 0; i < 4; i++)
        {
            // Each a different webhook: a copy of one signed request would be a replay, queued once (docs/ingress.md).
            genuine.Add(await PostAsync(Ingress.Ingress.Http, path, Genuine(i), Sign(Genuine(i))));
            forged.Add(await PostAsync(attacker, path, Body, "sha256=" + new string('0', 64)));
        }

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Unauthorized, 5), .. Enumerable.Repeat((HttpStatusCode)429, 19)], forged.Select(f => f.Status));
        // One failure comes back every 20 s (Ingress:FailedVerificationsPerSecond 0.05).
        Assert.All(forged.Skip(5), f => Assert.Equal(TimeSpan.FromSeconds(20), f.RetryAfter));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, (HttpStatusCode)429], genuine.Select(g => g.Status));
        Assert.InRange(genuine[3].RetryAfter ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        var stored = await Ingress.PeekAsync(channel);
        Assert.Equal(3, stored.Count);
        Assert.Equal([Genuine(0), Genuine(1), Genuine(2)], stored.Select(m => m.Body.ToByteArray()));
        Assert.All(stored, m => Assert.Equal("127.0.0.1", m.RemoteAddress));
    }

    private static byte[] Genuine(int number) => Encoding.UTF8.GetBytes($"{{\"action\":\"opened\",\"number\":{number}}}");

    [Fact]
    public async Task BehindATrustedProxyTheLimitFollowsTheForwardedSourceSoOtherSendersThroughTheSameProxyAreNotRefused()
    {
        var channel = await Ingress.NewChannelAsync("proxied", endpoint: e =>
        {
            e.Verification = new SenderVerification { Github = new SenderVerification.Types.GitHub { Secret = Secret } };
            e.IpAllowlist = new IpAllowlist { TrustedProxies = { "127.0.0.1/32" } };
        });
        var path = $"/webhook/{channel}";
        var http = Ingress.Ingress.Http;

        var forged = new List<HttpStatusCode>();
        for (var i = 0; i < 7; i++)
        {
            forged.Add((await PostAsync(http, path, Body, "sha256=" + new string('0', 64), forwardedFor: "203.0.113.7")).Status);
        }

        // The attacker's address is refused even with a valid signature (its failures are spent); another sender
        // through the same proxy is not.
        var attackerSigned = await PostAsync(http, path, Body, Sign(Body), forwardedFor: "203.0.113.7");
        var other = await PostAsync(http, path, Body, Sign(Body), forwardedFor: "198.51.100.4");

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Unauthorized, 5), HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], forged);
        Assert.Equal(HttpStatusCode.TooManyRequests, attackerSigned.Status);
        Assert.Equal(HttpStatusCode.OK, other.Status);
        Assert.Equal("198.51.100.4", Assert.Single(await Ingress.PeekAsync(channel)).RemoteAddress);
    }

    private static string Sign(byte[] body) => "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), body));

    private static async Task<(HttpStatusCode Status, TimeSpan? RetryAfter)> PostAsync(HttpClient http, string path, byte[] body, string signature, string? forwardedFor = null)
    {
        List<KeyValuePair<string, string>> headers = [new("X-Hub-Signature-256", signature)];
        if (forwardedFor is not null)
        {
            headers.Add(new("X-Forwarded-For", forwardedFor));
        }

        using var response = await IngressStack.PostAsync(http, path, body, headers);
        return (response.StatusCode, response.Headers.RetryAfter?.Delta);
    }

    /// <summary>A client whose connections come from <paramref name="local"/> (any 127.0.0.0/8 address is loopback on Linux).</summary>
    private HttpClient ClientFrom(IPAddress local)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(local, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, token);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = Ingress.Ingress.Http.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>An ingress whose sources may fail verification 5 times, then once per 20 s.</summary>
    public sealed class Stack : IAsyncLifetime
    {
        public IngressStack Ingress { get; } = new()
        {
            IngressSettings = new Dictionary<string, string>
            {
                ["Ingress:FailedVerificationBurst"] = "5",
                ["Ingress:FailedVerificationsPerSecond"] = "0.05",
            },
        };

        public ValueTask InitializeAsync() => Ingress.InitializeAsync();

        public ValueTask DisposeAsync() => Ingress.DisposeAsync();
    }
}

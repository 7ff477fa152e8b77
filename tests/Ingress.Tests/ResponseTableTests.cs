using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Tests.Support;
using WebhookConnect.TestKit;
using SenderVerification = WebhookConnect.Contracts.V1.Verification;

namespace WebhookConnect.Ingress.Tests;

/// <summary>SPEC §4's response table, row by row, against real processes (redis-server, queue-manager, ingress).</summary>
public sealed class ResponseTableTests(IngressStack stack) : IClassFixture<IngressStack>
{
    private static readonly byte[] Json = Encoding.UTF8.GetBytes("{\"event\":\"order.created\",\"id\":42}");

    [Fact]
    public async Task AQueuedWebhookIsAnswered200WithItsIdAndStoredByteForByteWithEveryHeader()
    {
        var channel = await stack.NewChannelAsync("queued");
        // Bytes that are not UTF-8 must survive unchanged.
        var body = new byte[] { 0x00, 0xff, 0xfe, 0x7b, 0x80, 0x0a };

        using var response = await stack.PostAsync($"/webhook/{channel}?source=test&x=1", body, [new("X-Other", "o")], "application/octet-stream");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("queued", json.RootElement.GetProperty("status").GetString());
        Assert.Equal(channel, json.RootElement.GetProperty("channel").GetString());
        var id = json.RootElement.GetProperty("message_id").GetString();
        Assert.Equal(id, Assert.Single(response.Headers.GetValues("X-Webhook-Message-Id")));
        Assert.False(json.RootElement.TryGetProperty("duplicate", out _));

        var stored = Assert.Single(await stack.PeekAsync(channel));
        Assert.Equal(id, stored.MessageId);
        Assert.Equal(channel, stored.Channel);
        Assert.Equal(channel, stored.EndpointId);
        Assert.Equal("", stored.EndpointNamespace);
        Assert.Equal(body, stored.Body.ToByteArray());
        Assert.Equal("application/octet-stream", stored.ContentType);
        Assert.Equal("?source=test&x=1", stored.QueryString);
        Assert.Equal("127.0.0.1", stored.RemoteAddress);
        Assert.Equal(["o"], Values(stored, "X-Other"));
        Assert.Equal(["application/octet-stream"], Values(stored, "Content-Type"));
        Assert.Equal([body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)], Values(stored, "Content-Length"));
        Assert.True(stored.ReceivedAt.ToDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
    }

    [Fact]
    public async Task RepeatedHeaderNamesStaySeparateEntriesInTheirOrderAndNonAsciiBytesAreKept()
    {
        var channel = await stack.NewChannelAsync("octets");
        var utf8 = Encoding.UTF8.GetBytes("café ✓");
        var latin1 = new byte[] { (byte)'a', 0xe9, 0xff };

        var status = await RawHttp.PostAsync(stack.Ingress.Port, $"/webhook/{channel}", Json,
        [
            RawHttp.Header("X-Repeated", "first"),
            RawHttp.Header("X-Middle", "m"),
            RawHttp.Header("X-Repeated", "second, with a comma"),
            RawHttp.Header("X-Repeated", "third"),
            ("X-Utf8", utf8),
            ("X-Latin1", latin1),
        ]);

        Assert.Equal("HTTP/1.1 200 OK", status);
        var stored = Assert.Single(await stack.PeekAsync(channel));
        Assert.Equal(["first", "second, with a comma", "third"], Values(stored, "X-Repeated"));
        Assert.Equal(utf8, stored.Headers.Single(h => h.Name == "X-Utf8").Value.ToByteArray());
        Assert.Equal(latin1, stored.Headers.Single(h => h.Name == "X-Latin1").Value.ToByteArray());
        Assert.Equal(Json, stored.Body.ToByteArray());
    }

    [Fact]
    public async Task HttpTwoWithPriorKnowledgeIsServedOnTheSamePort()
    {
        var channel = await stack.NewChannelAsync("h2");
        using var http = new HttpClient { BaseAddress = stack.Ingress.Http.BaseAddress, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/webhook/{channel}", UriKind.Relative))
        {
            Content = new ByteArrayContent(Json),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Json, Assert.Single(await stack.PeekAsync(channel)).Body.ToByteArray());
    }

    [Fact]
    public async Task ANamespacedUrlRoutesToItsOwnEndpoint()
    {
        var channel = IngressStack.UniqueName("ns");
        await stack.CreateChannelAsync(channel, null, new EndpointConfig { Id = "hook", Namespace = channel, Verification = TestChannels.Unverified });

        using var namespaced = await stack.PostAsync($"/webhook/{channel}/hook", Json);
        using var bare = await stack.PostAsync("/webhook/hook-that-does-not-exist", Json);

        Assert.Equal(HttpStatusCode.OK, namespaced.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, bare.StatusCode);
        var stored = Assert.Single(await stack.PeekAsync(channel));
        Assert.Equal("hook", stored.EndpointId);
        Assert.Equal(channel, stored.EndpointNamespace);
    }

    [Fact]
    public async Task AnUnknownEndpointIs404AndNothingIsQueued()
    {
        using var response = await stack.PostAsync("/webhook/no-such-endpoint", Json);
        using var deeper = await stack.PostAsync("/webhook/a/b/c", Json);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, deeper.StatusCode);
        Assert.Equal("{\"error\":\"not found\"}", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    public async Task MethodsOtherThanPostAre405WithAllow(string method)
    {
        var channel = await stack.NewChannelAsync("method");
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri($"/webhook/{channel}", UriKind.Relative));

        using var response = await stack.Ingress.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(["POST"], response.Content.Headers.Allow);
        Assert.Equal(0u, (await stack.StatsAsync(channel)).PublishedTotal);
    }

    [Fact]
    public async Task ADuplicateIdempotencyKeyIsAnswered200WithTheOriginalIdAndNotQueuedTwice()
    {
        var channel = await stack.NewChannelAsync("idem", endpoint: e => e.IdempotencyHeader = "X-GitHub-Delivery");
        KeyValuePair<string, string>[] delivery = [new("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")];

        using var first = await stack.PostAsync($"/webhook/{channel}", Json, delivery);
        using var second = await stack.PostAsync($"/webhook/{channel}", Json, delivery);
        using var other = await stack.PostAsync($"/webhook/{channel}", Json, [new("X-GitHub-Delivery", "another")]);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        using var firstJson = JsonDocument.Parse(await first.Content.ReadAsStringAsync());
        using var secondJson = JsonDocument.Parse(await second.Content.ReadAsStringAsync());
        Assert.Equal(firstJson.RootElement.GetProperty("message_id").GetString(), secondJson.RootElement.GetProperty("message_id").GetString());
        Assert.True(secondJson.RootElement.GetProperty("duplicate").GetBoolean());
        var stats = await stack.StatsAsync(channel);
        Assert.Equal(2u, stats.PublishedTotal);
        Assert.Equal(1u, stats.DuplicatesTotal);
        Assert.Equal(2u, stats.MessagesQueued);
    }

    [Fact]
    public async Task ABodyOverTheChannelLimitIs413WhetherDeclaredOrChunked()
    {
        var channel = await stack.NewChannelAsync("large", new ChannelSettings { MaxMessageBytes = 1024 });

        using var declared = await stack.PostAsync($"/webhook/{channel}", new byte[1025]);
        using var chunked = await PostChunkedAsync($"/webhook/{channel}", new byte[5000]);
        using var atLimit = await stack.PostAsync($"/webhook/{channel}", new byte[1024]);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked.StatusCode);
        Assert.Equal(HttpStatusCode.OK, atLimit.StatusCode);
        Assert.Equal(1u, (await stack.StatsAsync(channel)).PublishedTotal);
    }

    [Fact]
    public async Task TooManyOrTooLargeHeadersAre431()
    {
        var channel = await stack.NewChannelAsync("headers");
        var many = Enumerable.Range(0, 150).Select(i => new KeyValuePair<string, string>($"X-H{i}", "v"));
        var large = new[] { new KeyValuePair<string, string>("X-Large", new string('a', 40 * 1024)) };

        using var tooMany = await stack.PostAsync($"/webhook/{channel}", Json, many);
        using var tooLarge = await stack.PostAsync($"/webhook/{channel}", Json, large);
        using var fine = await stack.PostAsync($"/webhook/{channel}", Json);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, tooMany.StatusCode);
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, tooLarge.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        Assert.Equal(1u, (await stack.StatsAsync(channel)).PublishedTotal);
    }

    [Fact]
    public async Task TooManyHeadersAre431OverHttpTwoTheSizeLimitIsAnnouncedAndTheConnectionKeepsServing()
    {
        var channel = await stack.NewChannelAsync("headers-h2");
        using var http = new HttpClient { BaseAddress = stack.Ingress.Http.BaseAddress };

        async Task<(HttpStatusCode Status, Version Version)> PostAsync(IEnumerable<KeyValuePair<string, string>> headers)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/webhook/{channel}", UriKind.Relative))
            {
                Content = new ByteArrayContent(Json),
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await http.SendAsync(request);
            return (response.StatusCode, response.Version);
        }

        var tooMany = await PostAsync(Enumerable.Range(0, 150).Select(i => new KeyValuePair<string, string>($"x-h{i}", "v")));
        // Over HTTP/2 the size limit is also announced (SETTINGS_MAX_HEADER_LIST_SIZE = Ingress:MaxHeadersTotalBytes),
        // so a conforming client refuses to send a larger header block instead of getting a 431 for it.
        var tooLarge = await Assert.ThrowsAsync<HttpRequestException>(() => PostAsync([new("x-large", new string('a', 40 * 1024))]));
        var fine = await PostAsync([]);

        Assert.Equal((HttpStatusCode.RequestHeaderFieldsTooLarge, HttpVersion.Version20), tooMany);
        Assert.Contains("server limit of 32768 bytes", tooLarge.Message, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.OK, HttpVersion.Version20), fine);
        Assert.Equal(1u, (await stack.StatsAsync(channel)).PublishedTotal);
    }

    [Fact]
    public async Task AFullChannelIs503WithRetryAfterAndNothingIsDropped()
    {
        var channel = await stack.NewChannelAsync("full", new ChannelSettings { MaxQueueSize = 2 });

        using var one = await stack.PostAsync($"/webhook/{channel}", Json);
        using var two = await stack.PostAsync($"/webhook/{channel}", Json);
        using var three = await stack.PostAsync($"/webhook/{channel}", Json);

        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal(HttpStatusCode.OK, two.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, three.StatusCode);
        // queue-manager's QueueFullRetryAfter default (5 s), passed through.
        Assert.Equal(TimeSpan.FromSeconds(5), three.Headers.RetryAfter?.Delta);
        Assert.Equal("{\"error\":\"queue full\"}", await three.Content.ReadAsStringAsync());
        var stats = await stack.StatsAsync(channel);
        Assert.Equal(2u, stats.MessagesQueued);
        Assert.Equal(1u, stats.RejectedTotal);
    }

    [Fact]
    public async Task OverTheRateLimitIs429WithRetryAfter()
    {
        var channel = await stack.NewChannelAsync("rate", endpoint: e => e.RateLimit = new RateLimit { RequestsPerSecond = 0.2, Burst = 2 });

        using var one = await stack.PostAsync($"/webhook/{channel}", Json);
        using var two = await stack.PostAsync($"/webhook/{channel}", Json);
        using var three = await stack.PostAsync($"/webhook/{channel}", Json);

        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal(HttpStatusCode.OK, two.StatusCode);
        Assert.Equal((HttpStatusCode)429, three.StatusCode);
        // One token every 5 s: the wait for the next one is between 4 and 5 s, rounded up.
        Assert.InRange(three.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(5));
        Assert.Equal(2u, (await stack.StatsAsync(channel)).PublishedTotal);
    }

    [Fact]
    public async Task ASourceOutsideTheAllowlistIs403AndTrustedProxiesAreFollowedFromTheRight()
    {
        var closed = await stack.NewChannelAsync("ip-closed", endpoint: e => e.IpAllowlist = new IpAllowlist { AllowedCidrs = { "10.0.0.0/8" } });
        var proxied = await stack.NewChannelAsync("ip-proxied", endpoint: e => e.IpAllowlist = new IpAllowlist { AllowedCidrs = { "10.0.0.0/8" }, TrustedProxies = { "127.0.0.1/32", "192.168.0.0/16" } });

        using var direct = await stack.PostAsync($"/webhook/{closed}", Json);
        // Without trusted proxies X-Forwarded-For is ignored: anyone could write it.
        using var spoofed = await stack.PostAsync($"/webhook/{closed}", Json, [new("X-Forwarded-For", "10.1.2.3")]);
        using var viaProxies = await stack.PostAsync($"/webhook/{proxied}", Json, [new("X-Forwarded-For", "203.0.113.9, 10.1.2.3, 192.168.1.1")]);
        using var untrustedHop = await stack.PostAsync($"/webhook/{proxied}", Json, [new("X-Forwarded-For", "10.1.2.3, 203.0.113.9")]);

        Assert.Equal(HttpStatusCode.Forbidden, direct.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, spoofed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, viaProxies.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, untrustedHop.StatusCode);
        Assert.Equal("{\"error\":\"forbidden\"}", await direct.Content.ReadAsStringAsync());
        Assert.Equal("10.1.2.3", Assert.Single(await stack.PeekAsync(proxied)).RemoteAddress);
        Assert.Equal(0u, (await stack.StatsAsync(closed)).PublishedTotal);
    }

    [Fact]
    public async Task AFailedVerificationIs401WithoutDetailAndAPassingOneIsQueued()
    {
        const string secret = "It's a Secret to Everybody";
        var channel = await stack.NewChannelAsync("verify", endpoint: e => e.Verification = new SenderVerification { Github = new SenderVerification.Types.GitHub { Secret = secret } });
        var body = Encoding.UTF8.GetBytes("Hello, World!");

        // GitHub's published example signature for this secret and payload (see VerificationVectorTests).
        using var good = await stack.PostAsync($"/webhook/{channel}", body, [new("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")]);
        using var bad = await stack.PostAsync($"/webhook/{channel}", body, [new("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18")]);
        using var missing = await stack.PostAsync($"/webhook/{channel}", body);

        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("{\"error\":\"unauthorized\"}", await bad.Content.ReadAsStringAsync());
        Assert.Equal(1u, (await stack.StatsAsync(channel)).PublishedTotal);
    }

    [Fact]
    public async Task AnEndpointChangeMadeThroughAdminTakesEffectWithinOneSecond()
    {
        var channel = await stack.NewChannelAsync("change", endpoint: e => e.Verification = Bearer("old-token"));
        using (var before = await stack.PostAsync($"/webhook/{channel}", Json, [new("Authorization", "Bearer old-token")]))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        await stack.Admin.UpdateEndpointAsync(
            new UpdateEndpointRequest { Channel = channel, Endpoint = new EndpointConfig { Id = channel, Verification = Bearer("new-token") } },
            IngressStack.Bearer);
        var changed = System.Diagnostics.Stopwatch.StartNew();

        // SPEC §4: within 1 s of the admin call returning. The probe carries the new token: refused (and not
        // queued) until ingress has the change, queued once it has.
        var accepted = 0;
        await Eventually.UntilAsync(
            async () =>
            {
                using var probe = await stack.PostAsync($"/webhook/{channel}", Json, [new("Authorization", "Bearer new-token")]);
                accepted += probe.StatusCode == HttpStatusCode.OK ? 1 : 0;
                return accepted > 0;
            },
            TimeSpan.FromSeconds(1),
            "ingress to accept the new bearer token",
            TimeSpan.FromMilliseconds(20));
        var took = changed.Elapsed;

        using var oldToken = await stack.PostAsync($"/webhook/{channel}", Json, [new("Authorization", "Bearer old-token")]);
        Assert.Equal(HttpStatusCode.Unauthorized, oldToken.StatusCode);
        Assert.Equal(2u, (await stack.StatsAsync(channel)).PublishedTotal);
        Assert.True(took < TimeSpan.FromSeconds(1.5), $"took {took}");
    }

    [Fact]
    public async Task RequestsAreCountedByEndpointAndCode()
    {
        var channel = await stack.NewChannelAsync("counted");
        for (var i = 0; i < 3; i++)
        {
            using var ok = await stack.PostAsync($"/webhook/{channel}", Json);
        }

        using var refused = await stack.Ingress.Http.GetAsync(new Uri($"/webhook/{channel}", UriKind.Relative));

        Assert.Equal(3, await stack.Ingress.MetricAsync("webhookconnect_ingress_requests_total", $"endpoint=\"{channel}\"", "code=\"200\""));
        Assert.Equal(0, await stack.Ingress.MetricAsync("webhookconnect_ingress_spool_messages") ?? -1);
        Assert.NotNull(await stack.Ingress.MetricAsync("webhookconnect_publish_duration_seconds_count", "outcome=\"queued\""));
    }

    private static SenderVerification Bearer(string token) => new() { Bearer = new SenderVerification.Types.Bearer { Token = token } };

    private static string[] Values(Message message, string name) =>
        [.. message.Headers.Where(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Select(h => Encoding.Latin1.GetString(h.Value.ToByteArray()))];

    private async Task<HttpResponseMessage> PostChunkedAsync(string path, byte[] body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = new StreamContent(new MemoryStream(body)) };
        request.Headers.TransferEncodingChunked = true;
        return await stack.Ingress.Http.SendAsync(request);
    }
}

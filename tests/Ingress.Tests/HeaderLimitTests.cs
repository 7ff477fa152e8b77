using System.Net;
using System.Net.Sockets;
using System.Text;
using WebhookConnect.Ingress.Tests.Support;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// Header count and size limits (docs/ingress.md, "Header limits, exactly") over HTTP/1.1 and h2c, with the defaults
/// (Ingress:MaxHeaderCount 100, Ingress:MaxHeadersTotalBytes 32 KiB, announced over HTTP/2 as
/// SETTINGS_MAX_HEADER_LIST_SIZE): 431 for any header list a client may send within the announced size, a GOAWAY
/// only beyond twice it.
/// </summary>
public sealed class HeaderLimitTests(IngressStack stack) : IClassFixture<IngressStack>
{
    private const int ProtocolError = 1;
    private const int CompressionError = 9;

    private static readonly byte[] Json = "{\"event\":\"headers\"}"u8.ToArray();

    [Theory]
    [InlineData(101)]
    [InlineData(250)]
    // About 31 KiB by HTTP/2's accounting (32 bytes more per field): the most HttpClient will send.
    [InlineData(780)]
    public async Task MoreThanMaxHeaderCountHeadersAre431OverBothProtocolsAndTheH2cConnectionKeepsServing(int count)
    {
        var channel = await stack.NewChannelAsync("header-count");
        var connections = 0;
        using var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                Interlocked.Increment(ref connections);
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        { BaseAddress = stack.Ingress.Http.BaseAddress };
        // With Host, Content-Type and Content-Length, `count` fields in all.
        var fields = Enumerable.Range(0, count - 3).Select(i => ($"x-h{i}", "v")).ToList();

        var http1 = await PostAsync(http, channel, HttpVersion.Version11, fields);
        var h2c = await PostAsync(http, channel, HttpVersion.Version20, fields);
        var h2cFine = await PostAsync(http, channel, HttpVersion.Version20, fields.Take(100 - 3 - 1).ToList());

        Assert.Equal((HttpStatusCode.RequestHeaderFieldsTooLarge, "{\"error\":\"request header fields too large\"}"), http1);
        Assert.Equal((HttpStatusCode.RequestHeaderFieldsTooLarge, "{\"error\":\"request header fields too large\"}"), h2c);
        Assert.Equal(HttpStatusCode.OK, h2cFine.Status);
        Assert.Equal(2, connections); // one HTTP/1.1, one h2c that answered both of its requests
        Assert.Equal(1u, (await stack.StatsAsync(channel)).PublishedTotal);
    }

    [Fact]
    public async Task ExactlyMaxHeaderCountHeadersAreAcceptedOverBothProtocols()
    {
        var channel = await stack.NewChannelAsync("header-count-max");
        using var http = new HttpClient { BaseAddress = stack.Ingress.Http.BaseAddress };
        var fields = Enumerable.Range(0, 100 - 3).Select(i => ($"x-h{i}", "v")).ToList();

        Assert.Equal(HttpStatusCode.OK, (await PostAsync(http, channel, HttpVersion.Version11, fields)).Status);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(http, channel, HttpVersion.Version20, fields)).Status);
        Assert.Equal(2u, (await stack.StatsAsync(channel)).PublishedTotal);
    }

    [Fact]
    public async Task AnH2cClientThatIgnoresTheAnnouncedSizeGets431UpToTwiceItAndAGoAwayBeyond()
    {
        var channel = await stack.NewChannelAsync("header-size-h2");
        var path = $"/webhook/{channel}";
        // 32 KiB announced; names and values of the whole list (pseudo-header fields included) up to 64 KiB are
        // answered, as are up to 2 × 1024 fields (Kestrel's count backstop: 32 KiB / 32).
        var manySmall = Enumerable.Range(0, 1000).Select(i => ($"x-h{i}", "v"));
        var oneLarge = new[] { ("x-large", new string('a', 40_000)) };
        var tooMany = Enumerable.Range(0, 2100).Select(i => ($"x-h{i}", "v"));
        var tooLargeInAll = Enumerable.Range(0, 20).Select(i => ($"x-large-{i}", new string('a', 4_000)));
        var oneTooLarge = new[] { ("x-large", new string('a', 70_000)) };

        Assert.Equal(new RawHttp2.Answer(431, null), await RawHttp2.SendAsync(stack.Ingress.Port, path, manySmall));
        Assert.Equal(new RawHttp2.Answer(431, null), await RawHttp2.SendAsync(stack.Ingress.Port, path, oneLarge));
        Assert.Equal(new RawHttp2.Answer(null, ProtocolError), await RawHttp2.SendAsync(stack.Ingress.Port, path, tooMany));
        Assert.Equal(new RawHttp2.Answer(null, ProtocolError), await RawHttp2.SendAsync(stack.Ingress.Port, path, tooLargeInAll));
        Assert.Equal(new RawHttp2.Answer(null, CompressionError), await RawHttp2.SendAsync(stack.Ingress.Port, path, oneTooLarge));
        Assert.Equal(new RawHttp2.Answer(200, null), await RawHttp2.SendAsync(stack.Ingress.Port, path, [("x-fine", "v")]));
        Assert.Equal(1u, (await stack.StatsAsync(channel)).PublishedTotal);
    }

    private static async Task<(HttpStatusCode Status, string Body)> PostAsync(HttpClient http, string channel, Version version, IReadOnlyList<(string Name, string Value)> fields)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/webhook/{channel}", UriKind.Relative))
        {
            Content = new ByteArrayContent(Json),
            Version = version,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new("application/json");
        foreach (var (name, value) in fields)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(request);
        Assert.Equal(version, response.Version);
        return (response.StatusCode, Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync()));
    }
}

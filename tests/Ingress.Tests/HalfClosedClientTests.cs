using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using WebhookConnect.Ingress.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// Clients that half-close (<c>shutdown(SHUT_WR)</c>) right after their request get their whole answer; clients that
/// go away at any point are not an error. Raw sockets against real processes; the ingress log is read for
/// error-level lines once every connection of the test has been closed by ingress.
/// </summary>
public sealed partial class HalfClosedClientTests(HalfClosedClientTests.Stack fixture) : IClassFixture<HalfClosedClientTests.Stack>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private IngressStack Ingress => fixture.Ingress;

    [Fact]
    public async Task EveryRequestFollowedAtOnceByAHalfCloseGetsItsWholeAnswerAndNothingIsLoggedAsAnError()
    {
        const int Clients = 50;
        var channel = await Ingress.NewChannelAsync("half-close");
        var closedBefore = await ClosedConnectionsAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, Clients).Select(i => SendThenHalfCloseAsync(Post(channel, $"{{\"n\":{i}}}"))));

        Assert.All(answers, answer => AssertWholeAnswer("HTTP/1.1 200 OK", answer));
        Assert.Equal((ulong)Clients, (await Ingress.StatsAsync(channel)).PublishedTotal);
        await AssertNoErrorLoggedOnceClosedAsync(closedBefore + Clients);
    }

    [Fact]
    public async Task PipelinedRequestsFollowedByAHalfCloseAreAllAnsweredInOrder()
    {
        var channel = await Ingress.NewChannelAsync("half-close-pipelined");
        var closedBefore = await ClosedConnectionsAsync();

        var answer = await SendThenHalfCloseAsync([.. Post(channel, "{\"n\":1}"), .. Post(channel, "{\"n\":2}"), .. Post("no-such-endpoint", "{}")]);

        var statuses = StatusLine().Matches(answer).Select(m => m.Value).ToList();
        Assert.Equal(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"], statuses);
        Assert.EndsWith("{\"error\":\"not found\"}", answer, StringComparison.Ordinal);
        Assert.Equal(2u, (await Ingress.StatsAsync(channel)).PublishedTotal);
        await AssertNoErrorLoggedOnceClosedAsync(closedBefore + 1);
    }

    [Fact]
    public async Task ClientsThatGoAwayAtAnyPointAreNotAnErrorAndIngressKeepsServing()
    {
        var channel = await Ingress.NewChannelAsync("gone");
        var headers = Encoding.ASCII.GetBytes($"POST /webhook/{channel} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"cut\":");
        var prefacePart = "PRI * HTTP/2.0\r\n"u8.ToArray();
        var closedBefore = await ClosedConnectionsAsync();

        // Each way of going away: nothing sent, half the HTTP/2 preface, a cut-off body, and a whole request whose
        // answer is never read; each by FIN (close) and by RST (close with linger 0).
        byte[][] sends = [[], prefacePart, headers, Post(channel, "{\"unread\":true}")];
        var connections = 0;
        foreach (var send in sends)
        {
            foreach (var reset in new[] { false, true })
            {
                await SendThenGoAwayAsync(send, reset);
                connections++;
            }
        }

        using var good = await Ingress.PostAsync($"/webhook/{channel}", "{\"ok\":true}"u8.ToArray());
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        await AssertNoErrorLoggedOnceClosedAsync(closedBefore + connections);
        Assert.False(Ingress.Ingress.Process.HasExited);
    }

    [Fact]
    public async Task AnH2cConnectionThatHalfClosesIsEndedWithoutAnError()
    {
        var channel = await Ingress.NewChannelAsync("h2c-half-close");
        var closedBefore = await ClosedConnectionsAsync();

        // Prior knowledge: preface, empty SETTINGS, one POST without a body (HEADERS with END_STREAM), then FIN.
        // HTTP/2 half-closes streams, not connections (END_STREAM, RFC 9113 §5.1): Kestrel ends the connection on
        // the FIN, and its open streams with it; ingress must not log that as an error.
        byte[] connection = [.. RawHttp2.Preface(), .. RawHttp2.Post($"/webhook/{channel}", [])];
        await SendThenHalfCloseAsync(connection, tolerateReset: true);

        using (var h2c = new HttpClient { BaseAddress = Ingress.Ingress.Http.BaseAddress })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/webhook/{channel}", UriKind.Relative))
            {
                Content = new ByteArrayContent("{\"ok\":true}"u8.ToArray()),
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            using var good = await h2c.SendAsync(request);
            Assert.Equal((HttpStatusCode.OK, HttpVersion.Version20), (good.StatusCode, good.Version));
        }

        await AssertNoErrorLoggedOnceClosedAsync(closedBefore + 2);
    }

    private static byte[] Post(string channel, string json) =>
        Encoding.ASCII.GetBytes($"POST /webhook/{channel} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {json.Length}\r\n\r\n{json}");

    /// <summary>Sends <paramref name="request"/>, half-closes, and reads until ingress closes the connection.</summary>
    private async Task<string> SendThenHalfCloseAsync(byte[] request, bool tolerateReset = false)
    {
        using var timeout = new CancellationTokenSource(Patience);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, Ingress.Ingress.Port, timeout.Token);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(request, timeout.Token);
        socket.Shutdown(SocketShutdown.Send);

        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException) when (tolerateReset)
        {
        }

        return Encoding.Latin1.GetString(received.ToArray());
    }

    private async Task SendThenGoAwayAsync(byte[] bytes, bool reset)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, Ingress.Ingress.Port);
        if (bytes.Length > 0)
        {
            await socket.SendAsync(bytes);
        }

        if (reset)
        {
            socket.LingerState = new LingerOption(true, 0);
        }

        socket.Close();
    }

    /// <summary>A status line, headers with a Content-Length, and exactly that many body bytes.</summary>
    private static void AssertWholeAnswer(string statusLine, string answer)
    {
        Assert.StartsWith(statusLine + "\r\n", answer, StringComparison.Ordinal);
        var split = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(split > 0, "no end of headers in: " + answer);
        var length = ContentLength().Match(answer[..split]);
        Assert.True(length.Success, "no Content-Length in: " + answer);
        Assert.Equal(int.Parse(length.Groups[1].Value, CultureInfo.InvariantCulture), answer.Length - split - 4);
    }

    /// <summary>
    /// Waits until ingress has closed <paramref name="closed"/> webhook connections since it started (Kestrel's
    /// <c>kestrel.connection.duration</c> count, recorded after an unhandled connection error is logged), then for a
    /// marker request logged after them, and asserts that no line of the ingress log is at error level.
    /// </summary>
    private async Task AssertNoErrorLoggedOnceClosedAsync(double closed)
    {
        await Eventually.UntilAsync(async () => await ClosedConnectionsAsync() >= closed, Patience, $"ingress to have closed {closed} webhook connections");
        var marker = Guid.NewGuid().ToString("N");
        using (await Ingress.Ingress.Management.GetAsync(new Uri("/healthz?marker=" + marker, UriKind.Relative)))
        {
        }

        await Eventually.UntilAsync(() => Ingress.Ingress.Process.Output.Contains(marker, StringComparison.Ordinal), Patience, "the marker request in the ingress log");
        var errors = Ingress.Ingress.Process.Output.Split('\n').Where(line => line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal));
        Assert.Empty(errors);
    }

    private async Task<double> ClosedConnectionsAsync()
    {
        var port = $"server_port=\"{Ingress.Ingress.Port.ToString(CultureInfo.InvariantCulture)}\"";
        return ConnectionCount().Matches(await Ingress.Ingress.MetricsAsync())
            .Where(m => m.Groups["labels"].Value.Contains(port, StringComparison.Ordinal))
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"HTTP/1\.1 \d{3} [^\r]*")]
    private static partial Regex StatusLine();

    [GeneratedRegex(@"(?im)^content-length:\s*(\d+)\s*$")]
    private static partial Regex ContentLength();

    [GeneratedRegex(@"(?m)^kestrel_connection_duration_seconds_count(?<labels>\{[^}]*\})\s+(?<value>\S+)")]
    private static partial Regex ConnectionCount();

    /// <summary>The usual stack, with the request log on so a marker request can show that the log is complete.</summary>
    public sealed class Stack : IAsyncLifetime
    {
        public IngressStack Ingress { get; } = new()
        {
            IngressSettings = new Dictionary<string, string> { ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information" },
        };

        public ValueTask InitializeAsync() => Ingress.InitializeAsync();

        public ValueTask DisposeAsync() => Ingress.DisposeAsync();
    }
}

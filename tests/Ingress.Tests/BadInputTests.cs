using System.Net;
using System.Net.Sockets;
using System.Text;
using WebhookConnect.Ingress.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Ingress.Tests;

/// <summary>SPEC §11: bad input gets a clear 4xx, nothing is stored, and the process keeps serving.</summary>
public sealed class BadInputTests(IngressStack stack) : IClassFixture<IngressStack>
{
    [Theory]
    [InlineData("/webhook/../webhook/x")]
    [InlineData("/webhook/%2e%2e/etc/passwd")]
    [InlineData("/webhook/a%2Fb")]
    [InlineData("/webhook/")]
    [InlineData("/webhook//x")]
    [InlineData("/webhook/ns/id/extra")]
    [InlineData("/other")]
    public async Task PathsThatAreNotAnEndpointAre404(string path)
    {
        var status = await RawHttp.PostAsync(stack.Ingress.Port, path, "{}"u8.ToArray(), []);

        Assert.Equal("HTTP/1.1 404 Not Found", status);
    }

    [Fact]
    public async Task GarbageAndTruncatedRequestsAreRefusedAndTheProcessKeepsServing()
    {
        var channel = await stack.NewChannelAsync("bad-input");

        // Not HTTP at all.
        Assert.StartsWith("HTTP/1.1 400", await SendRawAsync("\u0001\u0002 this is not http\r\n\r\n"), StringComparison.Ordinal);
        // A header line without a colon.
        Assert.StartsWith("HTTP/1.1 400", await SendRawAsync($"POST /webhook/{channel} HTTP/1.1\r\nHost: x\r\nbroken header\r\nContent-Length: 0\r\n\r\n"), StringComparison.Ordinal);
        // A body shorter than its Content-Length, then the sender goes away.
        await SendAndCloseAsync($"POST /webhook/{channel} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"short\":");
        // A non-numeric Content-Length.
        Assert.StartsWith("HTTP/1.1 400", await SendRawAsync($"POST /webhook/{channel} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"), StringComparison.Ordinal);

        using var good = await stack.PostAsync($"/webhook/{channel}", "{\"ok\":true}"u8.ToArray());
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(1u, (await stack.StatsAsync(channel)).PublishedTotal);
        Assert.False(stack.Ingress.Process.HasExited);
    }

    private async Task<string> SendRawAsync(string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, stack.Ingress.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await reader.ReadLineAsync(timeout.Token) ?? "";
    }

    private async Task SendAndCloseAsync(string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, stack.Ingress.Port);
        await client.GetStream().WriteAsync(Encoding.Latin1.GetBytes(request));
        client.Client.Shutdown(SocketShutdown.Both);
    }
}

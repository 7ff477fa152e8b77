using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.EndToEnd.Tests;

/// <summary>SCENARIOS.md S11: bad input gets a clear refusal, nothing is stored, and every service keeps serving.</summary>
public sealed class BadInputScenarios
{
    [Fact]
    public async Task S11_BadWebhooksAreRefusedWithTheirCodeAndNothingIsStored()
    {
        await using var stack = await ScenarioStack.StartAsync();
        await stack.CreateChannelAsync("test-channel", ["cloud-webhook"], new ChannelSettings { MaxMessageBytes = 1024 });
        var signed = new CreateChannelRequest { Channel = "channel-alpha" };
        signed.Endpoints.Add(new EndpointConfig { Id = "alpha-github", Verification = new Verification { Github = new Verification.Types.GitHub { Secret = "It's a Secret to Everybody" } } });
        await stack.AdminClient.CreateChannelAsync(signed, ScenarioStack.AdminHeaders);
        await stack.WaitForIngressRoutesAsync();

        using var oversized = new ByteArrayContent(new byte[2048]);
        using var tooLarge = await stack.Ingress.Http.PostAsync(new Uri("/webhook/cloud-webhook", UriKind.Relative), oversized);
        var unknown = await stack.PostWebhookAsync("no-such-endpoint", 1, 1);
        var badSignature = await stack.PostWebhookAsync("alpha-github", 1, 1, new Dictionary<string, string> { ["X-Hub-Signature-256"] = "sha256=" + new string('0', 64) });
        var unsigned = await stack.PostWebhookAsync("alpha-github", 1, 1);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, badSignature.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.Status);
        foreach (var channel in new[] { "test-channel", "channel-alpha" })
        {
            var stats = await stack.StatsAsync(channel);
            Assert.Equal(0u, stats.MessagesQueued);
            Assert.Equal(0ul, stats.PublishedTotal);
        }

        // A correctly signed webhook on the same endpoint still goes through: the refusals were about the input.
        var body = ScenarioStack.WebhookBody(1, 1);
        var signature = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes("It's a Secret to Everybody"), body));
        var good = await stack.PostWebhookAsync("alpha-github", 1, 1, new Dictionary<string, string> { ["X-Hub-Signature-256"] = signature });
        Assert.Equal(HttpStatusCode.OK, good.Status);
        Assert.Equal(1ul, (await stack.StatsAsync("channel-alpha")).PublishedTotal);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("my channel")]
    public async Task S11_AdminRefusesAChannelNameWithTraversalOrSpacesOverBothTransports(string name)
    {
        await using var stack = await ScenarioStack.StartAsync();

        var grpc = await Assert.ThrowsAsync<RpcException>(() =>
            stack.AdminClient.CreateChannelAsync(new CreateChannelRequest { Channel = name }, ScenarioStack.AdminHeaders).ResponseAsync);
        using var http = new HttpClient { BaseAddress = stack.AdminHttp, Timeout = ScenarioStack.Patience };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/admin/webhook-connect/channels", UriKind.Relative))
        {
            Content = new StringContent($$"""{"channel":"{{name}}"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ScenarioStack.AdminToken);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(StatusCode.InvalidArgument, grpc.StatusCode);
        Assert.Contains(name, grpc.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(name, text, StringComparison.Ordinal);
        Assert.Empty((await stack.AdminClient.ListChannelsAsync(new ListChannelsRequest(), ScenarioStack.AdminHeaders)).Channels);
    }

    [Fact]
    public async Task S11_GarbageAndTruncatedFramesOnTheGrpcPortsLeaveTheServicesServing()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var token = await stack.CreateChannelAsync("test-channel", ["cloud-webhook"]);
        var ports = new[] { stack.QueueManager.GrpcPort, stack.AdminGrpcPort };

        foreach (var port in ports)
        {
            // Not HTTP/2 at all.
            await AssertClosedByServerAsync(port, RandomNumberGenerator.GetBytes(4096));
            // The HTTP/2 preface, then half a frame header, then silence from us (write side shut).
            await AssertClosedByServerAsync(port, [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, 0x00, 0x00, 0x40, 0x01]);
        }

        // A gRPC request whose length prefix promises more than the body holds: a gRPC status, not a hang or a crash.
        using var h2 = new HttpClient(new SocketsHttpHandler()) { Timeout = ScenarioStack.Patience };
        using var truncated = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://127.0.0.1:{stack.AdminGrpcPort}/webhookconnect.admin.v1.AdminService/ListChannels"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent([0x00, 0x00, 0x00, 0x01, 0x00, 0x0a, 0x01]),
        };
        truncated.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        truncated.Headers.Add("te", "trailers");
        truncated.Headers.Add("authorization", "Bearer " + ScenarioStack.AdminToken);
        using var truncatedResponse = await h2.SendAsync(truncated);
        await truncatedResponse.Content.ReadAsByteArrayAsync();
        var grpcStatus = truncatedResponse.TrailingHeaders.TryGetValues("grpc-status", out var trailer) ? trailer.Single()
            : truncatedResponse.Headers.TryGetValues("grpc-status", out var header) ? header.Single() : null;
        Assert.NotNull(grpcStatus);
        Assert.NotEqual("0", grpcStatus);

        // A Connect stream that does not start with Subscribe.
        var notSubscribe = await TestConnector.RefusedAsync(stack.QueueManager.Channel, token, new ConnectRequest { Ack = new Ack() });
        Assert.Equal(StatusCode.InvalidArgument, notSubscribe.StatusCode);

        // Everything still works for well-behaved clients: admin answers, a webhook is queued and delivered.
        Assert.Single((await stack.AdminClient.ListChannelsAsync(new ListChannelsRequest(), ScenarioStack.AdminHeaders)).Channels);
        var reply = await stack.PostWebhookAsync("cloud-webhook", 1, 1);
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        await using var connector = await TestConnector.ConnectAsync(stack.QueueManager.Channel, "test-channel", token);
        var delivery = await connector.NextAsync(ScenarioStack.Patience);
        Assert.Equal(reply.MessageId, delivery.Message.MessageId);
        Assert.Equal(reply.SentBody, delivery.Message.Body.ToByteArray());
    }

    /// <summary>Sends <paramref name="bytes"/> and shuts our side; the server must close the connection within the deadline.</summary>
    private static async Task AssertClosedByServerAsync(int port, byte[] bytes)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var deadline = new CancellationTokenSource(ScenarioStack.Patience);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), deadline.Token);
        try
        {
            await socket.SendAsync(bytes, SocketFlags.None, deadline.Token);
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[4096];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token) > 0)
            {
                // Whatever the server answers (a GOAWAY, a 400) is fine; what matters is that it ends the connection.
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown)
        {
            // A reset is the server closing the connection too.
        }
    }
}

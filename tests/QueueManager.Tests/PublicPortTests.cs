using System.Net;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>
/// The public port (the one connectors reach from outside) serves Connect and nothing internal. Each attack that
/// worked when Connect shared a port with the internal APIs is tried there, with and without the internal token, and
/// refused with UNIMPLEMENTED; the internal port still serves the same calls to holders of the internal token.
/// </summary>
public sealed class PublicPortTests : IAsyncLifetime
{
    private const string InternalToken = "public-port-tests-internal-token-0123456789";
    private static readonly Metadata Insider = new() { { "authorization", "Bearer " + InternalToken } };

    private RedisServer _redis = null!;
    private QueueManagerProcess _replica = null!;

    public async ValueTask InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _replica = await QueueManagerProcess.StartAsync(_redis.Endpoint, new Dictionary<string, string> { ["QueueManager:InternalToken"] = InternalToken });
    }

    public async ValueTask DisposeAsync()
    {
        await _replica.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task ListEndpointsOnThePublicPortRevealsNoSecret()
    {
        var channel = await CreateChannelAsync("list-endpoints");
        var outside = new PublishService.PublishServiceClient(_replica.Channel);

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => outside.ListEndpointsAsync(new ListEndpointsRequest()).ResponseAsync);
        var withToken = await Assert.ThrowsAsync<RpcException>(() => outside.ListEndpointsAsync(new ListEndpointsRequest(), Insider).ResponseAsync);
        var inside = await new PublishService.PublishServiceClient(_replica.Internal.Channel).ListEndpointsAsync(new ListEndpointsRequest(), Insider);

        Assert.Equal(StatusCode.Unimplemented, anonymous.StatusCode);
        Assert.Equal(StatusCode.Unimplemented, withToken.StatusCode);
        Assert.DoesNotContain("secret", anonymous.Status.Detail, StringComparison.OrdinalIgnoreCase);
        // The secret exists and the internal port hands it to ingress: the refusal above is about the port.
        Assert.Contains(inside.Routes, r => r.Channel == channel && r.Endpoint.Verification.Github.Secret == "gh-secret-" + channel);
    }

    [Fact]
    public async Task RotateTokenOnThePublicPortIsRefusedAndTheConnectorKeepsWorking()
    {
        var channel = TestChannels.UniqueName("rotate");
        var token = (await InternalAdmin.CreateChannelAsync(new CreateChannelRequest { Channel = channel, Endpoints = { new EndpointConfig { Id = channel, Verification = TestChannels.Unverified } } }, Insider)).Token;
        await using var connector = await TestConnector.ConnectAsync(_replica.Channel, channel, token);
        var outside = new QueueAdminService.QueueAdminServiceClient(_replica.Channel);

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => outside.RotateTokenAsync(new RotateTokenRequest { Channel = channel }).ResponseAsync);
        var withToken = await Assert.ThrowsAsync<RpcException>(() => outside.RotateTokenAsync(new RotateTokenRequest { Channel = channel }, Insider).ResponseAsync);
        var published = await new PublishService.PublishServiceClient(_replica.Internal.Channel)
            .PublishAsync(new PublishRequest { Message = TestMessages.NewMessage(channel, "still delivered") }, Insider);
        var delivery = await connector.NextAsync();
        await using var again = await TestConnector.ConnectAsync(_replica.Channel, channel, token);

        Assert.Equal(StatusCode.Unimplemented, anonymous.StatusCode);
        Assert.Equal(StatusCode.Unimplemented, withToken.StatusCode);
        Assert.Equal(published.MessageId, delivery.Message.MessageId);
        var stats = (await InternalAdmin.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel }, Insider)).Stats;
        Assert.Equal(2u, stats.Connections);
    }

    [Fact]
    public async Task PublishOnThePublicPortQueuesNothing()
    {
        var channel = await CreateChannelAsync("publish");
        var outside = new PublishService.PublishServiceClient(_replica.Channel);

        var single = await Assert.ThrowsAsync<RpcException>(() => outside.PublishAsync(new PublishRequest { Message = TestMessages.NewMessage(channel, "forged") }).ResponseAsync);
        var batch = await Assert.ThrowsAsync<RpcException>(() => outside.PublishBatchAsync(new PublishBatchRequest { Messages = { TestMessages.NewMessage(channel, "forged") } }, Insider).ResponseAsync);
        var stats = (await InternalAdmin.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = channel }, Insider)).Stats;

        Assert.Equal(StatusCode.Unimplemented, single.StatusCode);
        Assert.Equal(StatusCode.Unimplemented, batch.StatusCode);
        Assert.Equal((0ul, 0u), (stats.PublishedTotal, stats.MessagesQueued));
    }

    [Theory]
    [InlineData("/webhookconnect.v1.PublishService/ListEndpoints")]
    [InlineData("/WEBHOOKCONNECT.V1.PUBLISHSERVICE/LISTENDPOINTS")]
    [InlineData("/webhookconnect.queue.v1.QueueAdminService/RotateToken")]
    [InlineData("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")]
    public async Task AnAuthorityNamingTheInternalPortDoesNotOpenItOnThePublicPort(string path)
    {
        var status = await RawCallAsync(_replica.GrpcPort, path, host: $"127.0.0.1:{_replica.InternalPort}", token: InternalToken);

        Assert.Equal("12", status);
    }

    [Theory]
    [InlineData("/webhookconnect.v1.PublishService/ListEndpoints")]
    [InlineData("/webhookconnect.v1.publishservice/listendpoints")]
    [InlineData("/WEBHOOKCONNECT.QUEUE.V1.QUEUEADMINSERVICE/GetOverview")]
    public async Task ADifferentlyCasedPathOnTheInternalPortStillNeedsTheInternalToken(string path)
    {
        var status = await RawCallAsync(_replica.InternalPort, path, host: null, token: null);

        // UNAUTHENTICATED when routing matched the method regardless of case, UNIMPLEMENTED when it did not; never OK.
        Assert.Contains(status, new[] { "16", "12" });
    }

    private QueueAdminService.QueueAdminServiceClient InternalAdmin => new(_replica.Internal.Channel);

    private async Task<string> CreateChannelAsync(string prefix)
    {
        var channel = TestChannels.UniqueName(prefix);
        await InternalAdmin.CreateChannelAsync(new CreateChannelRequest { Channel = channel, Endpoints = { ChannelAdminTests.GitHubEndpoint(channel) } }, Insider);
        return channel;
    }

    /// <summary>An h2c POST with an empty gRPC message, returning grpc-status (headers of a trailers-only answer, or trailers).</summary>
    private static async Task<string?> RawCallAsync(int port, string path, string? host, string? token)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}{path}")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
        request.Headers.TryAddWithoutValidation("TE", "trailers");
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("authorization", "Bearer " + token);
        }

        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Empty(body);
        return response.Headers.TryGetValues("grpc-status", out var values) ? values.Single()
            : response.TrailingHeaders.TryGetValues("grpc-status", out var trailers) ? trailers.Single() : null;
    }
}

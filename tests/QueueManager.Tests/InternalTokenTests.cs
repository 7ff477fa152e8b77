using Grpc.Core;
using Grpc.Health.V1;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.Queue.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>With QueueManager:InternalToken set, the internal APIs need it; Connect, health and reflection do not.</summary>
public sealed class InternalTokenTests
{
    private const string Token = "internal-secret-for-tests-0123456789";

    [Fact]
    public async Task InternalApisNeedTheInternalTokenAndConnectUsesChannelTokens()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var replica = await QueueManagerProcess.StartAsync(redis.Endpoint, new Dictionary<string, string> { ["QueueManager:InternalToken"] = Token });
        var admin = new QueueAdminService.QueueAdminServiceClient(replica.Internal.Channel);
        var publish = new PublishService.PublishServiceClient(replica.Internal.Channel);
        var good = new Metadata { { "authorization", "Bearer " + Token } };
        var wrong = new Metadata { { "authorization", "Bearer not-it" } };
        var channel = TestChannels.UniqueName("internal");

        var missing = await Assert.ThrowsAsync<RpcException>(() => admin.CreateChannelAsync(new CreateChannelRequest { Channel = channel, Endpoints = { new EndpointConfig { Id = channel, Verification = TestChannels.Unverified } } }).ResponseAsync);
        var bad = await Assert.ThrowsAsync<RpcException>(() => admin.GetOverviewAsync(new GetOverviewRequest(), wrong).ResponseAsync);
        var created = await admin.CreateChannelAsync(new CreateChannelRequest { Channel = channel, Endpoints = { new EndpointConfig { Id = channel, Verification = TestChannels.Unverified } } }, good);
        var publishMissing = await Assert.ThrowsAsync<RpcException>(() => publish.PublishAsync(new PublishRequest { Message = TestMessages.NewMessage(channel, "x") }).ResponseAsync);
        var published = await publish.PublishAsync(new PublishRequest { Message = TestMessages.NewMessage(channel, "x") }, good);

        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        Assert.Contains("QueueManager:InternalToken", missing.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.Unauthenticated, bad.StatusCode);
        Assert.DoesNotContain(Token, bad.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.Unauthenticated, publishMissing.StatusCode);
        Assert.Equal(PublishOutcome.Queued, published.Outcome);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await new Health.HealthClient(replica.Channel).CheckAsync(new HealthCheckRequest())).Status);
        await using var connector = await TestConnector.ConnectAsync(replica.Channel, channel, created.Token);
        Assert.Equal(published.MessageId, (await connector.NextAsync()).Message.MessageId);
    }
}

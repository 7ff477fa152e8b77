using System.Diagnostics;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;

using WebhookConnect.QueueManager.Tests.Support;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>The endpoint table that ingress routes with: GetEndpoint, ListEndpoints, WatchEndpoints (publish.proto).</summary>
public sealed class EndpointTableTests(SharedQueueManager qm) : IClassFixture<SharedQueueManager>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task GetEndpointReturnsTheRouteWithSecretsAndTheChannelLimit()
    {
        var name = SharedQueueManager.UniqueName("route");
        await qm.Admin.CreateChannelAsync(new CreateChannelRequest
        {
            Channel = name,
            Settings = new ChannelSettings { MaxMessageBytes = 4096 },
            Endpoints = { ChannelAdminTests.GitHubEndpoint(name) },
        });

        var route = (await qm.Publish.GetEndpointAsync(new GetEndpointRequest { EndpointId = name })).Route;

        Assert.Equal((name, 4096u), (route.Channel, route.MaxMessageBytes));
        Assert.Equal(("gh-secret-" + name, true), (route.Endpoint.Verification.Github.Secret, route.Endpoint.Verification.HasSecret));
    }

    [Fact]
    public async Task UnknownOrMalformedEndpointsAreRefused()
    {
        var unknown = await Assert.ThrowsAsync<RpcException>(async () =>
            await qm.Publish.GetEndpointAsync(new GetEndpointRequest { Namespace = "nobody", EndpointId = "nothing" }));
        var malformed = await Assert.ThrowsAsync<RpcException>(async () =>
            await qm.Publish.GetEndpointAsync(new GetEndpointRequest { EndpointId = "../etc" }));

        Assert.Equal((StatusCode.NotFound, "no channel has the endpoint 'nobody/nothing'"), (unknown.StatusCode, unknown.Status.Detail));
        Assert.Equal(StatusCode.InvalidArgument, malformed.StatusCode);
    }

    [Fact]
    public async Task ListEndpointsHasEveryRouteAndARevisionThatGrowsWithChanges()
    {
        var name = SharedQueueManager.UniqueName("table");
        await qm.Admin.CreateChannelAsync(new CreateChannelRequest
        {
            Channel = name,
            Endpoints = { ChannelAdminTests.GitHubEndpoint(name), new EndpointConfig { Id = "b", Namespace = name, Verification = TestChannels.Unverified } },
        });
        var before = await qm.Publish.ListEndpointsAsync(new ListEndpointsRequest());

        await qm.Admin.UpdateChannelAsync(new UpdateChannelRequest { Channel = name, Settings = new ChannelSettings { MaxMessageBytes = 1234 } });
        var after = await qm.Publish.ListEndpointsAsync(new ListEndpointsRequest());

        Assert.Equal([$"/{name}", $"{name}/b"], before.Routes.Where(r => r.Channel == name).Select(r => r.Endpoint.Namespace + "/" + r.Endpoint.Id));
        Assert.True(after.Revision > before.Revision, $"revision {after.Revision} after a max_message_bytes change, {before.Revision} before");
        Assert.All(after.Routes.Where(r => r.Channel == name), r => Assert.Equal(1234u, r.MaxMessageBytes));
    }

    [Fact]
    public async Task WatchSendsTheWholeTableFirstThenReflectsAnAddedEndpoint()
    {
        var name = SharedQueueManager.UniqueName("watch");
        await qm.Admin.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { ChannelAdminTests.GitHubEndpoint(name) } });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var watch = qm.Publish.WatchEndpoints(new WatchEndpointsRequest(), cancellationToken: cancel.Token);

        Assert.True(await watch.ResponseStream.MoveNext(cancel.Token).WaitAsync(Deadline));
        var first = watch.ResponseStream.Current;
        var clock = Stopwatch.StartNew();
        await qm.Admin.AddEndpointAsync(new AddEndpointRequest { Channel = name, Endpoint = new EndpointConfig { Id = "late", Namespace = name, Verification = TestChannels.Unverified } });
        WatchEndpointsResponse? change = null;
        while (change is null)
        {
            Assert.True(await watch.ResponseStream.MoveNext(cancel.Token).WaitAsync(Deadline - clock.Elapsed), "the watch ended");
            var response = watch.ResponseStream.Current;
            if (response.Upserted.Any(r => r.Endpoint.Namespace == name && r.Endpoint.Id == "late"))
            {
                change = response;
            }
        }

        Assert.True(first.Reset);
        Assert.Contains(first.Upserted, r => r.Channel == name && r.Endpoint.Id == name);
        Assert.DoesNotContain(first.Upserted, r => r.Endpoint.Id == "late");
        Assert.True(change.Revision > first.Revision, $"revision {change.Revision} after the change, {first.Revision} before");
        Assert.Contains(change.Upserted, r => r.Channel == name && r.Endpoint.Id == name);
        Assert.True(clock.Elapsed < Deadline, $"the change arrived after {clock.Elapsed}");
    }

    [Fact]
    public async Task WatchReflectsADeletedChannel()
    {
        var name = SharedQueueManager.UniqueName("watch-delete");
        await qm.Admin.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { ChannelAdminTests.GitHubEndpoint(name) } });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var watch = qm.Publish.WatchEndpoints(new WatchEndpointsRequest(), cancellationToken: cancel.Token);
        Assert.True(await watch.ResponseStream.MoveNext(cancel.Token).WaitAsync(Deadline));
        Assert.Contains(watch.ResponseStream.Current.Upserted, r => r.Channel == name);

        await qm.Admin.DeleteChannelAsync(new DeleteChannelRequest { Channel = name });
        // A reset computed before the delete may still be on its way (other tests change the table too): wait for
        // the first reset at or after the revision the delete produced.
        var revisionAfterDelete = (await qm.Publish.ListEndpointsAsync(new ListEndpointsRequest())).Revision;
        var clock = Stopwatch.StartNew();
        WatchEndpointsResponse response;
        do
        {
            Assert.True(await watch.ResponseStream.MoveNext(cancel.Token).WaitAsync(Deadline - clock.Elapsed), "the watch ended");
            response = watch.ResponseStream.Current;
        }
        while (!response.Reset || response.Revision < revisionAfterDelete);

        Assert.DoesNotContain(response.Upserted, r => r.Channel == name);
    }
}

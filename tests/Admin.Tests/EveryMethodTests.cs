using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Admin.Tests;

/// <summary>Every AdminService method once over gRPC and once over the JSON twin, each with an answer that shows
/// the call reached the queue-manager and came back with the right result.</summary>
public sealed class EveryMethodTests(AdminStack stack) : IClassFixture<AdminStack>
{
    [Fact]
    public async Task EveryMethodWorksOverGrpc()
    {
        var client = stack.Client;
        var h = AdminStack.Bearer(AdminStack.Token);
        var name = $"every-{Guid.NewGuid().ToString("N")[..6]}";

        await client.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { new EndpointConfig { Id = name, Verification = TestChannels.Unverified } } }, h);
        Assert.Contains((await client.ListChannelsAsync(new ListChannelsRequest { PageSize = 1000 }, h)).Channels, c => c.Name == name);
        Assert.Equal(33u, (await client.UpdateChannelAsync(new UpdateChannelRequest { Channel = name, Settings = new ChannelSettings { MaxInFlight = 33 } }, h)).Channel.Settings.MaxInFlight);
        Assert.False((await client.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Settings = new ChannelSettings { MaxConnections = 3 } }, h)).Created);
        Assert.Equal(2, (await client.AddEndpointAsync(new AddEndpointRequest { Channel = name, Endpoint = new EndpointConfig { Id = name + "-b", Verification = TestChannels.Unverified } }, h)).Channel.Endpoints.Count);
        Assert.Equal("X-Delivery", (await client.UpdateEndpointAsync(new UpdateEndpointRequest { Channel = name, Endpoint = new EndpointConfig { Id = name + "-b", IdempotencyHeader = "X-Delivery", Verification = TestChannels.Unverified } }, h)).Channel.Endpoints.Single(e => e.Id == name + "-b").IdempotencyHeader);
        Assert.Single((await client.RemoveEndpointAsync(new RemoveEndpointRequest { Channel = name, EndpointId = name + "-b" }, h)).Channel.Endpoints);
        Assert.True((await client.PauseChannelAsync(new PauseChannelRequest { Channel = name }, h)).Channel.Settings.Paused);
        Assert.False((await client.ResumeChannelAsync(new ResumeChannelRequest { Channel = name }, h)).Channel.Settings.Paused);
        Assert.True((await client.RotateTokenAsync(new RotateTokenRequest { Channel = name }, h)).Rotated);
        Assert.Empty((await client.ListConnectionsAsync(new ListConnectionsRequest { Channel = name }, h)).Connections);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => client.DisconnectConnectionAsync(new DisconnectConnectionRequest { Channel = name, ConnectionId = "conn_x" }, h).ResponseAsync)).StatusCode);
        Assert.Equal(name, (await client.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = name }, h)).Stats.Channel);
        Assert.Contains((await client.GetOverviewAsync(new GetOverviewRequest { IncludeChannels = true }, h)).Overview.Channels, c => c.Channel == name);
        Assert.Equal(0u, (await client.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = name }, h)).Total);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => client.GetDeadLetterAsync(new GetDeadLetterRequest { Channel = name, MessageId = "m" }, h).ResponseAsync)).StatusCode);
        Assert.Equal(["m"], (await client.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Channel = name, MessageIds = { "m" } }, h)).NotFound);
        Assert.Equal(0u, (await client.PurgeDeadLettersAsync(new PurgeDeadLettersRequest { Channel = name, All = true }, h)).Purged);
        Assert.Empty((await client.PeekMessagesAsync(new PeekMessagesRequest { Channel = name }, h)).Messages);
        await client.DeleteChannelAsync(new DeleteChannelRequest { Channel = name }, h);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => client.GetChannelAsync(new GetChannelRequest { Channel = name }, h).ResponseAsync)).StatusCode);
    }

    [Fact]
    public async Task EveryPathWorksOverTheJsonTwin()
    {
        using var http = new HttpClient { BaseAddress = new Uri(stack.Http, "/admin/webhook-connect/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminStack.Token);
        var name = $"every-json-{Guid.NewGuid().ToString("N")[..6]}";
        async Task<(HttpStatusCode Status, JsonElement Body)> Call(HttpMethod method, string path, string? json = null)
        {
            using var request = new HttpRequestMessage(method, path) { Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json") };
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
        }

        Assert.Equal(HttpStatusCode.Created, (await Call(HttpMethod.Post, "channels", $$$"""{"channel":"{{{name}}}","endpoints":[{"verification":{"none":{}},"id":"{{{name}}}"}]}""")).Status);
        Assert.Equal(33, (await Call(HttpMethod.Patch, $"channels/{name}", """{"settings":{"max_in_flight":33}}""")).Body.GetProperty("settings").GetProperty("max_in_flight").GetInt32());
        Assert.False((await Call(HttpMethod.Put, $"channels/{name}", """{"settings":{"max_connections":3}}""")).Body.GetProperty("created").GetBoolean());
        Assert.Equal(HttpStatusCode.Created, (await Call(HttpMethod.Post, $"channels/{name}/endpoints", "{\"endpoint\":{\"id\":\"" + name + "-b\",\"verification\":{\"none\":{}}}}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Call(HttpMethod.Put, $"channels/{name}/endpoints/{name}-b", """{"endpoint":{"idempotency_header":"X-Delivery","verification":{"none":{}}}}""")).Status);
        Assert.Equal(1, (await Call(HttpMethod.Delete, $"channels/{name}/endpoints/{name}-b")).Body.GetProperty("endpoints").GetArrayLength());
        Assert.True((await Call(HttpMethod.Post, $"channels/{name}/pause")).Body.GetProperty("settings").GetProperty("paused").GetBoolean());
        Assert.False((await Call(HttpMethod.Post, $"channels/{name}/resume")).Body.GetProperty("settings").GetProperty("paused").GetBoolean());
        Assert.Equal(0, (await Call(HttpMethod.Get, $"channels/{name}/connections")).Body.GetProperty("connections").GetArrayLength());
        Assert.Equal(HttpStatusCode.OK, (await Call(HttpMethod.Get, "connections")).Status);
        Assert.Equal(name, (await Call(HttpMethod.Get, $"channels/{name}/stats")).Body.GetProperty("channel").GetString());
        Assert.True((await Call(HttpMethod.Get, "overview?include_channels=true")).Body.GetProperty("channels").GetArrayLength() >= 1);
        Assert.Equal(HttpStatusCode.NotFound, (await Call(HttpMethod.Get, $"channels/{name}/dead-letters/m")).Status);
        Assert.Equal("m", (await Call(HttpMethod.Post, $"channels/{name}/dead-letters/replay", """{"message_ids":["m"]}""")).Body.GetProperty("not_found")[0].GetString());
        Assert.Equal("m", (await Call(HttpMethod.Delete, $"channels/{name}/dead-letters/m")).Body.GetProperty("not_found")[0].GetString());
        Assert.Equal(0, (await Call(HttpMethod.Delete, $"channels/{name}/dead-letters", """{"all":true}""")).Body.GetProperty("purged").GetInt32());
        Assert.Equal(0, (await Call(HttpMethod.Get, $"channels/{name}/messages?limit=5&include_body=true")).Body.GetProperty("messages").GetArrayLength());
        Assert.Equal(HttpStatusCode.OK, (await Call(HttpMethod.Delete, $"channels/{name}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Call(HttpMethod.Get, $"channels/{name}")).Status);
    }
}

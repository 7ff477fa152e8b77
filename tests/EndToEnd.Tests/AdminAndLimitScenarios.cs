using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.EndToEnd.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.EndToEnd.Tests;

/// <summary>SCENARIOS.md S3 (admin API over gRPC and HTTP/JSON) and S5 (queue overflow).</summary>
public sealed class AdminAndLimitScenarios
{
    [Fact]
    public async Task S3_TheAdminApiAnswersOverGrpcAndTheJsonTwinWithTheSameFacts()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var alphaToken = await stack.CreateChannelAsync("channel-alpha", ["channel-alpha"]);
        await stack.CreateChannelAsync("channel-beta", ["channel-beta"]);
        Assert.Equal(HttpStatusCode.OK, (await stack.PostWebhookAsync("channel-alpha", 1, 1)).Status);
        Assert.Equal(HttpStatusCode.OK, (await stack.PostWebhookAsync("channel-beta", 1, 1)).Status);
        var admin = stack.AdminClient;
        var headers = ScenarioStack.AdminHeaders;

        // gRPC, as grpcurl would use it.
        var services = await ListServicesAsync(stack);
        var health = await new Health.HealthClient(stack.AdminChannel).CheckAsync(new HealthCheckRequest());
        var channels = await admin.ListChannelsAsync(new ListChannelsRequest(), headers);
        var alpha = await admin.GetChannelAsync(new GetChannelRequest { Channel = "channel-alpha" }, headers);
        var stats = await admin.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = "channel-alpha" }, headers);
        var deadLetters = await admin.ListDeadLettersAsync(new ListDeadLettersRequest { Channel = "channel-alpha" }, headers);
        var overview = await admin.GetOverviewAsync(new GetOverviewRequest(), headers);

        Assert.Contains("webhookconnect.admin.v1.AdminService", services);
        Assert.Contains("grpc.health.v1.Health", services);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.Equal(["channel-alpha", "channel-beta"], channels.Channels.Select(c => c.Name).Order(StringComparer.Ordinal));
        Assert.Equal("channel-alpha", alpha.Channel.Name);
        Assert.DoesNotContain(alphaToken, alpha.ToString(), StringComparison.Ordinal);
        Assert.Equal(1u, stats.Stats.MessagesQueued);
        Assert.Empty(deadLetters.Messages);
        Assert.Equal(2u, overview.Overview.TotalChannels);

        // The HTTP/JSON twin, as a curl user scripts it.
        using var http = new HttpClient { BaseAddress = new Uri(stack.AdminHttp, "/admin/webhook-connect/"), Timeout = ScenarioStack.Patience };
        async Task<(HttpStatusCode Status, JsonElement Json)> GetAsync(string path, string? token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
        }

        var token = ScenarioStack.AdminToken;
        var twinHealth = await GetAsync("health", null);
        var twinChannels = await GetAsync("channels", token);
        var twinAlpha = await GetAsync("channels/channel-alpha", token);
        var twinStats = await GetAsync("channels/channel-alpha/stats", token);
        var twinDeadLetters = await GetAsync("channels/channel-alpha/dead-letters", token);
        var twinOverview = await GetAsync("overview", token);
        var withoutToken = await GetAsync("channels", null);
        var wrongToken = await GetAsync("channels", "not-the-admin-token");

        Assert.Equal(HttpStatusCode.OK, twinHealth.Status);
        Assert.Equal(2, twinChannels.Json.GetProperty("channels").GetArrayLength());
        Assert.Equal("channel-alpha", twinAlpha.Json.GetProperty("name").GetString());
        Assert.DoesNotContain(alphaToken, twinAlpha.Json.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(1, twinStats.Json.GetProperty("messages_queued").GetInt32());
        Assert.Equal(0, twinDeadLetters.Json.GetProperty("messages").GetArrayLength());
        Assert.Equal(2, twinOverview.Json.GetProperty("total_channels").GetInt32());
        Assert.Equal(HttpStatusCode.Unauthorized, withoutToken.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongToken.Status);
    }

    [Fact]
    public async Task S5_AFullChannelRefusesWith503AndRetryAfterAndDeliversExactlyWhatItAccepted()
    {
        await using var stack = await ScenarioStack.StartAsync();
        var token = await stack.CreateChannelAsync("channel-overflow", ["channel-overflow"], new ChannelSettings { MaxQueueSize = 3 });

        var replies = new List<WebhookReply>();
        for (var i = 1; i <= 6; i++)
        {
            replies.Add(await stack.PostWebhookAsync("channel-overflow", i, 6));
        }

        var stats = await stack.StatsAsync("channel-overflow");
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable], replies.Select(r => r.Status));
        Assert.All(replies.Skip(3), r => Assert.True(r.RetryAfter > TimeSpan.Zero, $"Retry-After on the 503: {r.RetryAfter}"));
        Assert.Equal((3u, 3ul), (stats.MessagesQueued, stats.RejectedTotal));

        var target = await stack.StartTargetAsync();
        await stack.StartConnectorAsync("channel-overflow", token, target);
        await stack.WaitForStatsAsync("channel-overflow", s => s.AckedTotal == 3, "the 3 accepted acked");

        DeliveryScenarios.AssertDeliveredExactly(target, replies.Take(3).ToList());
        Assert.Equal(3, target.Count);
    }

    private static async Task<List<string>> ListServicesAsync(ScenarioStack stack)
    {
        using var call = new ServerReflection.ServerReflectionClient(stack.AdminChannel).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(ScenarioStack.Patience));
        return call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
    }
}

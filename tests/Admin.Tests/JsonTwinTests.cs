using System.Net;
using System.Text.Json;

namespace WebhookConnect.Admin.Tests;

/// <summary>The HTTP/JSON twin (SPEC §8) with curl-like requests: the paths and field names existing scripts use.</summary>
public sealed class JsonTwinTests(AdminStack stack) : IClassFixture<AdminStack>
{
    [Fact]
    public async Task HealthNeedsNoToken()
    {
        using var http = stack.JsonClient(token: null);

        using var response = await http.GetAsync(new Uri("/admin/webhook-connect/health", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", (await JsonAsync(response)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task EveryOtherPathNeedsTheAdminToken()
    {
        using var anonymous = stack.JsonClient(token: null);
        using var wrong = stack.JsonClient("wrong-token");

        using var none = await anonymous.GetAsync(new Uri("/admin/webhook-connect/channels", UriKind.Relative));
        using var bad = await wrong.GetAsync(new Uri("/admin/webhook-connect/overview", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("UNAUTHENTICATED", (await JsonAsync(none)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
    }

    [Fact]
    public async Task TheScriptedPathsAnswerWithTheFieldNamesUsersExpect()
    {
        using var http = stack.JsonClient(AdminStack.Token);
        var name = $"twin-{Guid.NewGuid().ToString("N")[..8]}";

        using var created = await AdminStack.SendJsonAsync(http, HttpMethod.Post, "/admin/webhook-connect/channels", $$$"""{"channel":"{{{name}}}","endpoints":[{"verification":{"none":{}},"id":"{{{name}}}"}]}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.StartsWith("wct_", (await JsonAsync(created)).GetProperty("token").GetString(), StringComparison.Ordinal);

        using var list = await http.GetAsync(new Uri("/admin/webhook-connect/channels", UriKind.Relative));
        Assert.Contains((await JsonAsync(list)).GetProperty("channels").EnumerateArray(), c => c.GetProperty("name").GetString() == name);

        using var one = await http.GetAsync(new Uri($"/admin/webhook-connect/channels/{name}", UriKind.Relative));
        var channel = await JsonAsync(one);
        Assert.Equal(name, channel.GetProperty("name").GetString());
        Assert.Equal(10000, channel.GetProperty("settings").GetProperty("max_queue_size").GetInt32());

        using var stats = await http.GetAsync(new Uri($"/admin/webhook-connect/channels/{name}/stats", UriKind.Relative));
        Assert.Equal(0, (await JsonAsync(stats)).GetProperty("messages_queued").GetInt32());

        using var deadLetters = await http.GetAsync(new Uri($"/admin/webhook-connect/channels/{name}/dead-letters", UriKind.Relative));
        Assert.Equal(0, (await JsonAsync(deadLetters)).GetProperty("messages").GetArrayLength());

        using var overview = await http.GetAsync(new Uri("/admin/webhook-connect/overview", UriKind.Relative));
        Assert.True((await JsonAsync(overview)).GetProperty("total_channels").GetInt32() >= 1);

        using var rotated = await AdminStack.SendJsonAsync(http, HttpMethod.Post, $"/admin/webhook-connect/channels/{name}/rotate-token", """{"grace_period_seconds":0}""");
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        Assert.StartsWith("wct_", (await JsonAsync(rotated)).GetProperty("new_token").GetString(), StringComparison.Ordinal);

        using var disconnect = await AdminStack.SendJsonAsync(http, HttpMethod.Delete, $"/admin/webhook-connect/channels/{name}/connections/conn_nope", null);
        Assert.Equal(HttpStatusCode.NotFound, disconnect.StatusCode);
        Assert.Equal("NOT_FOUND", (await JsonAsync(disconnect)).GetProperty("error").GetProperty("code").GetString());

        using var deleted = await AdminStack.SendJsonAsync(http, HttpMethod.Delete, $"/admin/webhook-connect/channels/{name}", null);
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        using var gone = await http.GetAsync(new Uri($"/admin/webhook-connect/channels/{name}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task BadInputIsA400ThatSaysWhat()
    {
        using var http = stack.JsonClient(AdminStack.Token);

        using var unknownField = await AdminStack.SendJsonAsync(http, HttpMethod.Post, "/admin/webhook-connect/channels", """{"channel":"x","endpoints":[{"id":"x","verification":{"none":{}}}],"colour":"red"}""");
        using var badName = await AdminStack.SendJsonAsync(http, HttpMethod.Post, "/admin/webhook-connect/channels", """{"channel":"Not Valid","endpoints":[{"id":"x","verification":{"none":{}}}]}""");
        using var notJson = await AdminStack.SendJsonAsync(http, HttpMethod.Post, "/admin/webhook-connect/channels", "{not json");

        Assert.Equal(HttpStatusCode.BadRequest, unknownField.StatusCode);
        Assert.Contains("colour", (await JsonAsync(unknownField)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, badName.StatusCode);
        Assert.Contains("Not Valid", (await JsonAsync(badName)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
    }

    [Fact]
    public async Task AnEndpointWithoutAPresetIsA400ThatSaysHowToChooseNoneAndChosenNoneIsStored()
    {
        using var http = stack.JsonClient(AdminStack.Token);
        var name = TestChannels.UniqueName("preset");

        using var open = await AdminStack.SendJsonAsync(http, HttpMethod.Post, "/admin/webhook-connect/channels", $$$"""{"channel":"{{{name}}}","endpoints":[{"id":"{{{name}}}"}]}""");
        using var chosen = await AdminStack.SendJsonAsync(http, HttpMethod.Post, "/admin/webhook-connect/channels", $$$"""{"channel":"{{{name}}}","endpoints":[{"verification":{"none":{}},"id":"{{{name}}}"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, open.StatusCode);
        Assert.Equal(
            "endpoints[0].verification: a preset is required (bearer, basic, hmac, github, stripe, standard_webhooks, shopify, slack); "
            + "to accept unverified requests, choose none explicitly: \"verification\": {\"none\": {}} (JSON twin and channels file; \"no_verification\" in protobuf and grpcurl)",
            (await JsonAsync(open)).GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.Created, chosen.StatusCode);
        var verification = (await JsonAsync(chosen)).GetProperty("channel").GetProperty("endpoints")[0].GetProperty("verification");
        Assert.True(verification.TryGetProperty("no_verification", out _), verification.ToString());
    }

    [Fact]
    public async Task AReadOnlyTokenGets403OnChanges()
    {
        using var http = stack.JsonClient(AdminStack.ReadOnlyToken);

        using var read = await http.GetAsync(new Uri("/admin/webhook-connect/overview", UriKind.Relative));
        using var write = await AdminStack.SendJsonAsync(http, HttpMethod.Post, "/admin/webhook-connect/channels", """{"channel":"ro-x","endpoints":[{"id":"ro-x","verification":{"none":{}}}]}""");

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, write.StatusCode);
        Assert.Equal("PERMISSION_DENIED", (await JsonAsync(write)).GetProperty("error").GetProperty("code").GetString());
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/json", $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

using System.Net;
using System.Text.Json;
using Google.Protobuf.Reflection;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Admin.Tests;

/// <summary>
/// The JSON twin's contract (docs/admin.md, "The JSON API contract"): 64-bit counters are JSON numbers, every 4xx and
/// 5xx has one error shape, and success and error bodies have one content type.
/// </summary>
public sealed class JsonTwinContractTests(AdminStack stack) : IClassFixture<AdminStack>
{
    private const string Twin = "/admin/webhook-connect";
    private const string ContentType = "application/json; charset=utf-8";

    [Fact]
    public async Task CountersAreJsonNumbersWithTheirExactValues()
    {
        using var http = stack.JsonClient(AdminStack.Token);
        var name = await CreateChannelAsync(http);
        var publisher = new PublishService.PublishServiceClient(stack.QueueManager.Internal.Channel);
        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishAsync(new PublishRequest { Message = TestMessages.NewMessage(name, $"m-{i}") }, AdminStack.Bearer(AdminStack.InternalToken));
        }

        using var statsResponse = await http.GetAsync(new Uri($"{Twin}/channels/{name}/stats", UriKind.Relative));
        using var overviewResponse = await http.GetAsync(new Uri($"{Twin}/overview?include_channels=true", UriKind.Relative));

        var stats = await SuccessAsync(statsResponse);
        Assert.Equal(JsonValueKind.Number, stats.GetProperty("published_total").ValueKind);
        Assert.Equal(3UL, stats.GetProperty("published_total").GetUInt64());
        Assert.Equal(0UL, stats.GetProperty("acked_total").GetUInt64());
        Assert.Equal(3, stats.GetProperty("messages_queued").GetInt32());
        AssertEvery64BitFieldIsANumber(stats, ChannelStats.Descriptor);

        var overview = await SuccessAsync(overviewResponse);
        var totals = overview.GetProperty("totals");
        AssertEvery64BitFieldIsANumber(totals, ChannelStats.Descriptor);
        Assert.True(totals.GetProperty("published_total").GetUInt64() >= 3);
        var mine = Assert.Single(overview.GetProperty("channels").EnumerateArray(), c => c.GetProperty("channel").GetString() == name);
        Assert.Equal(3UL, mine.GetProperty("published_total").GetUInt64());
        AssertEvery64BitFieldIsANumber(mine, ChannelStats.Descriptor);
    }

    [Fact]
    public async Task IntegersInRequestsMayBeNumbersOrStrings()
    {
        using var http = stack.JsonClient(AdminStack.Token);
        var name = await CreateChannelAsync(http);

        using var number = await AdminStack.SendJsonAsync(http, HttpMethod.Post, $"{Twin}/channels/{name}/rotate-token", """{"grace_period_seconds":0}""");
        using var text = await AdminStack.SendJsonAsync(http, HttpMethod.Post, $"{Twin}/channels/{name}/rotate-token", """{"grace_period_seconds":"0"}""");

        Assert.StartsWith("wct_", (await SuccessAsync(number)).GetProperty("new_token").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("wct_", (await SuccessAsync(text)).GetProperty("new_token").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownPathUnderThePrefixIs404WithTheErrorShape()
    {
        using var http = stack.JsonClient(AdminStack.Token);

        using var response = await http.GetAsync(new Uri($"{Twin}/channelz", UriKind.Relative));

        var message = await ErrorAsync(response, HttpStatusCode.NotFound, "NOT_FOUND");
        Assert.Contains("/admin/webhook-connect/channelz", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWrongMethodIs405WithAllowAndTheErrorShape()
    {
        using var http = stack.JsonClient(AdminStack.Token);

        using var response = await AdminStack.SendJsonAsync(http, HttpMethod.Delete, $"{Twin}/overview", null);

        Assert.Equal("GET", string.Join(", ", response.Content.Headers.Allow));
        var message = await ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNIMPLEMENTED");
        Assert.Contains("DELETE", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMalformedBodyIs400WithTheErrorShape()
    {
        using var http = stack.JsonClient(AdminStack.Token);

        using var response = await AdminStack.SendJsonAsync(http, HttpMethod.Post, $"{Twin}/channels", "{not json");

        var message = await ErrorAsync(response, HttpStatusCode.BadRequest, "INVALID_ARGUMENT");
        Assert.Contains("CreateChannelRequest", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingOrInvalidTokenIs401WithTheErrorShape()
    {
        using var anonymous = stack.JsonClient(token: null);
        using var wrong = stack.JsonClient("not-an-admin-token");

        using var none = await anonymous.GetAsync(new Uri($"{Twin}/channels", UriKind.Relative));
        using var invalid = await AdminStack.SendJsonAsync(wrong, HttpMethod.Post, $"{Twin}/channels", """{"channel":"x","endpoints":[{"id":"x","verification":{"none":{}}}]}""");

        Assert.Contains("authorization: Bearer", await ErrorAsync(none, HttpStatusCode.Unauthorized, "UNAUTHENTICATED"), StringComparison.Ordinal);
        await ErrorAsync(invalid, HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task AReadOnlyTokenOnAWriteIs403WithTheErrorShape()
    {
        using var http = stack.JsonClient(AdminStack.ReadOnlyToken);

        using var response = await AdminStack.SendJsonAsync(http, HttpMethod.Post, $"{Twin}/channels/anything/pause", null);

        Assert.Contains("PauseChannel", await ErrorAsync(response, HttpStatusCode.Forbidden, "PERMISSION_DENIED"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AQueueManagerStatusKeepsItsCodeAndMessageInTheErrorShape()
    {
        using var http = stack.JsonClient(AdminStack.Token);

        using var response = await http.GetAsync(new Uri($"{Twin}/channels/no-such-channel/stats", UriKind.Relative));

        Assert.Contains("no-such-channel", await ErrorAsync(response, HttpStatusCode.NotFound, "NOT_FOUND"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheTwinAnswersOnItsPortWhateverTheHostHeaderSays()
    {
        // Behind a Kubernetes Service or an ingress the Host header names port 80 or 443, not the listener's.
        using var http = stack.JsonClient(AdminStack.Token);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{Twin}/overview", UriKind.Relative));
        request.Headers.Host = "admin.example";

        using var response = await http.SendAsync(request);

        Assert.True((await SuccessAsync(response)).GetProperty("total_channels").ValueKind == JsonValueKind.Number);
    }

    /// <summary>Every 64-bit integer field of <paramref name="descriptor"/>, found by type, not by name.</summary>
    private static void AssertEvery64BitFieldIsANumber(JsonElement json, MessageDescriptor descriptor)
    {
        var fields = descriptor.Fields.InDeclarationOrder()
            .Where(f => f.FieldType is FieldType.UInt64 or FieldType.Int64 or FieldType.SInt64 or FieldType.Fixed64 or FieldType.SFixed64)
            .ToList();
        Assert.NotEmpty(fields);
        foreach (var field in fields)
        {
            Assert.True(json.GetProperty(field.Name).ValueKind == JsonValueKind.Number, $"{field.Name}: {json.GetProperty(field.Name).GetRawText()}");
        }
    }

    private async Task<string> CreateChannelAsync(HttpClient http)
    {
        var name = $"contract-{Guid.NewGuid().ToString("N")[..8]}";
        using var created = await AdminStack.SendJsonAsync(http, HttpMethod.Post, $"{Twin}/channels", $$$"""{"channel":"{{{name}}}","endpoints":[{"verification":{"none":{}},"id":"{{{name}}}"}]}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return name;
    }

    private static async Task<JsonElement> SuccessAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        Assert.Equal(ContentType, response.Content.Headers.ContentType?.ToString());
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts the one error shape, exactly, and returns its message.</summary>
    private static async Task<string> ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal(ContentType, response.Content.Headers.ContentType?.ToString());
        var root = JsonDocument.Parse(text).RootElement;
        Assert.Equal("error", string.Join(",", root.EnumerateObject().Select(p => p.Name)));
        var error = root.GetProperty("error");
        Assert.Equal("code,http_status,message", string.Join(",", error.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)));
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(JsonValueKind.Number, error.GetProperty("http_status").ValueKind);
        Assert.Equal((int)status, error.GetProperty("http_status").GetInt32());
        var message = error.GetProperty("message").GetString();
        Assert.False(string.IsNullOrWhiteSpace(message), text);
        return message!;
    }

}

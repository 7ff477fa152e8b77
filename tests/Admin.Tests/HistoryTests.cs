using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Admin.Tests;

/// <summary>
/// Issue 17 on the admin side, against the real admin service, queue-manager and Redis: the history methods and the
/// tail forwarded with contents left out for read-only tokens, the header filter needing the contents permission,
/// the JSON twin's history parameters and NDJSON tail, and the audit of resends and replays.
/// </summary>
public sealed class HistoryTests(AdminStack stack) : IClassFixture<AdminStack>
{
    private const string SenderCredential = "Bearer history-sender-credential-0123";
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task AReadOnlyTokenListsAndGetsHistoryWithoutBodyHeadersOrQueryButWithTheBodySize()
    {
        var (name, published) = await ChannelWithAMessageAsync();
        var readOnly = AdminStack.Bearer(AdminStack.ReadOnlyToken);

        var listed = await stack.Client.ListMessagesAsync(new ListMessagesRequest { Channel = name }, readOnly);
        var got = await stack.Client.GetMessageAsync(new GetMessageRequest { Channel = name, MessageId = published.MessageId }, readOnly);
        var withContents = await stack.Client.GetMessageAsync(new GetMessageRequest { Channel = name, MessageId = published.MessageId }, AdminStack.Bearer(AdminStack.ContentsToken));

        foreach (var record in new[] { Assert.Single(listed.Messages), got.Record })
        {
            Assert.Equal(published.MessageId, record.Message.MessageId);
            Assert.Equal((uint)published.Body.Length, record.BodySize);
            Assert.True(record.Message.Body.IsEmpty);
            Assert.Empty(record.Message.Headers);
            Assert.Equal("", record.Message.QueryString);
        }

        Assert.Equal(published.Body, withContents.Record.Message.Body);
        Assert.Equal(published.Headers, withContents.Record.Message.Headers);
        Assert.Equal("signature=abc", withContents.Record.Message.QueryString);
    }

    [Fact]
    public async Task AHeaderValueFilterNeedsTheContentsPermissionOverGrpcAndTheTwin()
    {
        var (name, published) = await ChannelWithAMessageAsync();
        var filter = new ListMessagesRequest { Channel = name, HeaderName = "X-Delivery", HeaderValue = "delivery-1" };

        var refused = await Assert.ThrowsAsync<RpcException>(() => stack.Client.ListMessagesAsync(filter, AdminStack.Bearer(AdminStack.ReadOnlyToken)).ResponseAsync);
        var found = await stack.Client.ListMessagesAsync(filter, AdminStack.Bearer(AdminStack.ContentsToken));
        var other = await stack.Client.ListMessagesAsync(new ListMessagesRequest { Channel = name, HeaderName = "x-delivery", HeaderValue = "delivery-2" }, AdminStack.Bearer(AdminStack.ContentsToken));
        using var readOnlyHttp = stack.JsonClient(AdminStack.ReadOnlyToken);
        using var twinRefused = await readOnlyHttp.GetAsync(new Uri($"/admin/webhook-connect/channels/{name}/history?header=X-Delivery:delivery-1", UriKind.Relative));

        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Equal("ListMessages needs the 'read_contents' permission (header_value asks for message contents), which a read-only token does not have", refused.Status.Detail);
        Assert.Equal(published.MessageId, Assert.Single(found.Messages).Message.MessageId);
        Assert.Empty(other.Messages);
        Assert.Equal(HttpStatusCode.Forbidden, twinRefused.StatusCode);
    }

    [Fact]
    public async Task TheTwinFiltersHistoryByRepeatedOrCommaSeparatedStatesTimesAndHeader()
    {
        var (name, published) = await ChannelWithAMessageAsync();
        using var http = stack.JsonClient(AdminStack.ContentsToken);
        var after = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(-5).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        var before = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));

        var waiting = await IdsAsync(http, $"channels/{name}/history?state=acked&state=waiting,in_flight&header=X-Delivery:%20delivery-1&received_after={after}");
        var settled = await IdsAsync(http, $"channels/{name}/history?state=acked,dead_lettered");
        var tooEarly = await IdsAsync(http, $"channels/{name}/history?received_before={before}");
        var byFullName = await IdsAsync(http, $"channels/{name}/history?state=MESSAGE_STATE_WAITING");

        Assert.Equal([published.MessageId], waiting);
        Assert.Empty(settled);
        Assert.Empty(tooEarly);
        Assert.Equal([published.MessageId], byFullName);
    }

    [Theory]
    [InlineData("state=delivered", "query parameter state = 'delivered' is not a message state (one of waiting, in_flight, acked, dead_lettered, expired, purged)")]
    [InlineData("received_after=2026-12-05", "query parameter received_after = '2026-12-05' is not an RFC 3339 time such as 2026-12-05T04:31:02Z")]
    [InlineData("received_before=yesterday", "query parameter received_before = 'yesterday' is not an RFC 3339 time such as 2026-12-05T04:31:02Z")]
    [InlineData("header=X-GitHub-Delivery", "query parameter header = 'X-GitHub-Delivery' is not Name:value (for example X-GitHub-Delivery:72d3162e)")]
    [InlineData("page_size=-1", "query parameter page_size = '-1' is not a non-negative integer")]
    public async Task TheTwinAnswers400NamingABadHistoryParameterAndItsValue(string query, string message)
    {
        using var http = stack.JsonClient(AdminStack.ContentsToken);

        using var response = await http.GetAsync(new Uri($"/admin/webhook-connect/channels/any/history?{query}", UriKind.Relative));
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("INVALID_ARGUMENT", error.GetProperty("code").GetString());
        Assert.Equal(message, error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task ResendMessageAndReplayRangeAreAuditedWithTheirParameters()
    {
        var (name, published) = await ChannelWithAMessageAsync();
        var admin = AdminStack.Bearer(AdminStack.Token);

        // Still waiting: the queue-manager refuses the resend (it will be delivered anyway) and skips it in a replay.
        var resend = await Assert.ThrowsAsync<RpcException>(() => stack.Client.ResendMessageAsync(new ResendMessageRequest { Channel = name, MessageId = published.MessageId }, admin).ResponseAsync);
        var replay = await stack.Client.ReplayRangeAsync(
            new ReplayRangeRequest { Channel = name, ReceivedAfter = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(-1)), ReceivedBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(1)), Limit = 10 },
            admin);
        List<Dictionary<string, string?>> writes = [];
        await Eventually.UntilAsync(
            async () =>
            {
                writes = [.. (await AuditRecordsAsync(name)).Where(r => r["kind"] == "write" && r["method"] is "ResendMessage" or "ReplayRange")];
                return writes.Count >= 2;
            },
            Patience,
            $"the audit records of ResendMessage and ReplayRange on channel {name}");

        Assert.Equal(StatusCode.FailedPrecondition, resend.StatusCode);
        Assert.Equal((0u, 1u), (replay.Resent, replay.Skipped));
        Assert.Equal(2, writes.Count);
        var resent = Assert.Single(writes, r => r["method"] == "ResendMessage");
        Assert.Equal(("FailedPrecondition", "rw-" + Id(AdminStack.Token)), (resent["result"], resent["caller"]));
        Assert.Equal(published.MessageId, JsonDocument.Parse(resent["parameters"]!).RootElement.GetProperty("message_id").GetString());
        var replayed = Assert.Single(writes, r => r["method"] == "ReplayRange");
        Assert.Equal("OK", replayed["result"]);
        Assert.Equal(10, JsonDocument.Parse(replayed["parameters"]!).RootElement.GetProperty("limit").GetInt32());
    }

    [Fact]
    public async Task TheTwinTailAnswersNdjsonOneEventPerLineAsEachHappensAndLeavesContentsOutForAReadOnlyToken()
    {
        var (name, _) = await ChannelWithAMessageAsync();
        using var http = stack.JsonClient(AdminStack.ReadOnlyToken);
        using var cancel = new CancellationTokenSource(Patience);

        using var response = await http.GetAsync(new Uri($"/admin/webhook-connect/channels/{name}/tail", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        using var lines = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        var started = JsonDocument.Parse((await lines.ReadLineAsync(cancel.Token))!).RootElement;
        var message = await PublishAsync(name, "delivery-2");
        var accepted = JsonDocument.Parse((await lines.ReadLineAsync(cancel.Token))!).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("TAIL_EVENT_KIND_STARTED", started.GetProperty("kind").GetString());
        Assert.Equal("TAIL_EVENT_KIND_ACCEPTED", accepted.GetProperty("kind").GetString());
        Assert.Equal(message.MessageId, accepted.GetProperty("message_id").GetString());
        Assert.Equal(message.Body.Length, accepted.GetProperty("body_size").GetInt32());
        Assert.Equal("", accepted.GetProperty("message").GetProperty("body").GetString());
        Assert.Equal(0, accepted.GetProperty("message").GetProperty("headers").GetArrayLength());
    }

    [Fact]
    public async Task TheTailOfAnUnknownChannelIsNotFoundOverGrpcAndAn404OverTheTwin()
    {
        var name = TestChannels.UniqueName("no-tail");
        using var http = stack.JsonClient(AdminStack.ReadOnlyToken);

        using var call = stack.Client.TailChannel(new TailChannelRequest { Channel = name }, AdminStack.Bearer(AdminStack.ReadOnlyToken), DateTime.UtcNow + Patience);
        var grpc = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        using var twin = await http.GetAsync(new Uri($"/admin/webhook-connect/channels/{name}/tail", UriKind.Relative));

        Assert.Equal(StatusCode.NotFound, grpc.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, twin.StatusCode);
        Assert.Equal("NOT_FOUND", JsonDocument.Parse(await twin.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    private async Task<(string Name, Message Published)> ChannelWithAMessageAsync()
    {
        var name = TestChannels.UniqueName("history");
        await stack.Client.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { new EndpointConfig { Id = name, Verification = TestChannels.Unverified } } }, AdminStack.Bearer(AdminStack.Token));
        return (name, await PublishAsync(name, "delivery-1"));
    }

    private async Task<Message> PublishAsync(string channel, string delivery)
    {
        var message = TestMessages.NewMessage(channel, """{"order":42}""");
        message.Headers.Add(new Header { Name = "Authorization", Value = ByteString.CopyFromUtf8(SenderCredential) });
        message.Headers.Add(new Header { Name = "X-Delivery", Value = ByteString.CopyFromUtf8(delivery) });
        message.QueryString = "signature=abc";
        await new PublishService.PublishServiceClient(stack.QueueManager.Internal.Channel)
            .PublishAsync(new PublishRequest { Message = message }, AdminStack.Bearer(AdminStack.InternalToken));
        return message;
    }

    private static async Task<List<string>> IdsAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(new Uri("/admin/webhook-connect/" + path, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {text}");
        return [.. JsonDocument.Parse(text).RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("message").GetProperty("message_id").GetString()!)];
    }

    private async Task<List<Dictionary<string, string?>>> AuditRecordsAsync(string channel)
    {
        if (!File.Exists(stack.AuditFile))
        {
            return [];
        }

        var lines = await File.ReadAllLinesAsync(stack.AuditFile);
        return [.. lines.Select(l => JsonSerializer.Deserialize<Dictionary<string, string?>>(l)!).Where(r => r["channel"] == channel)];
    }

    private static string Id(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)))[..8];
}

using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;
using WebhookConnect.TestKit.Services;
using AdminClient = WebhookConnect.Contracts.Admin.V1.AdminService.AdminServiceClient;

namespace WebhookConnect.Admin.Tests;

/// <summary>
/// Issue 20 on the admin side, each attack performed against the real admin service, queue-manager and Redis:
/// message contents need their own permission (finding 1), the audit sink (11a), token files re-read without a
/// restart (11b) and short admin tokens refused (11c). The channels file's substitution and grace (findings 8, 9)
/// are in <see cref="ChannelsFileTests"/>.
/// </summary>
public sealed class SecurityTests(AdminStack stack) : IClassFixture<AdminStack>, IDisposable
{
    private const string SenderCredential = "Bearer the-endpoints-secret-0123456789";
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;
    private readonly string _directory = Directory.CreateTempSubdirectory("wc-admin-security-").FullName;

    [Fact]
    public async Task AReadOnlyTokenSeesWaitingMessagesWithoutBodyHeadersOrQueryAndIsRefusedTheirContents()
    {
        var (name, published) = await ChannelWithACredentialBearingMessageAsync();
        var readOnly = AdminStack.Bearer(AdminStack.ReadOnlyToken);

        var metadata = await stack.Client.PeekMessagesAsync(new PeekMessagesRequest { Channel = name }, readOnly);
        var withBody = await Assert.ThrowsAsync<RpcException>(() => stack.Client.PeekMessagesAsync(new PeekMessagesRequest { Channel = name, IncludeBody = true }, readOnly).ResponseAsync);
        var deadLetter = await Assert.ThrowsAsync<RpcException>(() => stack.Client.GetDeadLetterAsync(new GetDeadLetterRequest { Channel = name, MessageId = published.MessageId }, readOnly).ResponseAsync);

        var seen = Assert.Single(metadata.Messages);
        Assert.Equal(published.MessageId, seen.Message.MessageId);
        Assert.Equal((uint)published.Body.Length, seen.BodySize);
        Assert.True(seen.Message.Body.IsEmpty);
        Assert.Empty(seen.Message.Headers);
        Assert.Equal("", seen.Message.QueryString);
        Assert.Equal(StatusCode.PermissionDenied, withBody.StatusCode);
        Assert.Contains("'read_contents' permission", withBody.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.PermissionDenied, deadLetter.StatusCode);
        Assert.Contains("GetDeadLetter needs the 'read_contents' permission", deadLetter.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OverTheJsonTwinAReadOnlyTokenGetsNoSenderCredentialAnd403ForBodies()
    {
        var (name, _) = await ChannelWithACredentialBearingMessageAsync();
        using var http = stack.JsonClient(AdminStack.ReadOnlyToken);

        using var metadata = await http.GetAsync(new Uri($"/admin/webhook-connect/channels/{name}/messages", UriKind.Relative));
        using var withBody = await http.GetAsync(new Uri($"/admin/webhook-connect/channels/{name}/messages?include_body=true", UriKind.Relative));
        var metadataText = await metadata.Content.ReadAsStringAsync();
        var refusal = JsonDocument.Parse(await withBody.Content.ReadAsStringAsync()).RootElement.GetProperty("error");

        Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
        Assert.Single(JsonDocument.Parse(metadataText).RootElement.GetProperty("messages").EnumerateArray());
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(SenderCredential)), metadataText, StringComparison.Ordinal);
        Assert.DoesNotContain("Authorization", metadataText, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.Forbidden, withBody.StatusCode);
        Assert.Equal("PERMISSION_DENIED", refusal.GetProperty("code").GetString());
        Assert.Contains("read_contents", refusal.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AContentsTokenReadsBodiesAndHeadersByteForByteButMayNotChangeAnything()
    {
        var (name, published) = await ChannelWithACredentialBearingMessageAsync();
        var contents = AdminStack.Bearer(AdminStack.ContentsToken);

        var peeked = await stack.Client.PeekMessagesAsync(new PeekMessagesRequest { Channel = name, IncludeBody = true }, contents);
        var asAdmin = await stack.Client.PeekMessagesAsync(new PeekMessagesRequest { Channel = name }, AdminStack.Bearer(AdminStack.Token));
        var pause = await Assert.ThrowsAsync<RpcException>(() => stack.Client.PauseChannelAsync(new PauseChannelRequest { Channel = name }, contents).ResponseAsync);

        var seen = Assert.Single(peeked.Messages).Message;
        Assert.Equal(published.Body, seen.Body);
        Assert.Equal(published.Headers, seen.Headers);
        Assert.Equal(published.QueryString, seen.QueryString);
        Assert.Equal(published.Headers, Assert.Single(asAdmin.Messages).Message.Headers);
        Assert.Equal(StatusCode.PermissionDenied, pause.StatusCode);
        Assert.Contains("PauseChannel needs the 'write' permission, which a contents token does not have", pause.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task TheAuditRecordsChangesWithParametersButNoSecretsReadsOfContentsAndRefusedCalls()
    {
        var name = TestChannels.UniqueName("audit");
        var channelToken = "wct_audit_" + Guid.NewGuid().ToString("N");
        const string Secret = "github-secret-never-in-the-audit";
        await stack.Client.CreateChannelAsync(
            new CreateChannelRequest
            {
                Channel = name,
                Token = channelToken,
                Endpoints = { new EndpointConfig { Id = name, Verification = new Verification { Github = new Verification.Types.GitHub { Secret = Secret } } } },
            },
            AdminStack.Bearer(AdminStack.Token));
        await Assert.ThrowsAsync<RpcException>(() => stack.Client.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = name }, AdminStack.Bearer("not-a-token-of-this-service-0123456789")).ResponseAsync);
        await Assert.ThrowsAsync<RpcException>(() => stack.Client.PeekMessagesAsync(new PeekMessagesRequest { Channel = name, IncludeBody = true }, AdminStack.Bearer(AdminStack.ReadOnlyToken)).ResponseAsync);
        await stack.Client.PeekMessagesAsync(new PeekMessagesRequest { Channel = name, IncludeBody = true }, AdminStack.Bearer(AdminStack.ContentsToken));
        await stack.Client.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = name }, AdminStack.Bearer(AdminStack.ReadOnlyToken));

        List<Dictionary<string, string?>> records = [];
        await Eventually.UntilAsync(
            async () =>
            {
                records = await AuditRecordsAsync(name);
                return records.Count >= 4;
            },
            Patience,
            $"four audit records about channel {name}");

        var text = await File.ReadAllTextAsync(stack.AuditFile);
        Assert.Equal(4, records.Count);
        var write = Assert.Single(records, r => r["kind"] == "write");
        Assert.Equal(("CreateChannel", "OK", "rw-" + Id(AdminStack.Token)), (write["method"], write["result"], write["caller"]));
        var parameters = JsonDocument.Parse(write["parameters"]!).RootElement;
        Assert.Equal(name, parameters.GetProperty("channel").GetString());
        Assert.Equal("(redacted)", parameters.GetProperty("token").GetString());
        Assert.Equal("(redacted)", parameters.GetProperty("endpoints")[0].GetProperty("verification").GetProperty("github").GetProperty("secret").GetString());
        Assert.DoesNotContain(channelToken, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, text, StringComparison.Ordinal);
        var unauthenticated = Assert.Single(records, r => r["caller"] == "invalid");
        Assert.Equal(("refused", "GetChannelStats", "Unauthenticated"), (unauthenticated["kind"], unauthenticated["method"], unauthenticated["result"]));
        var denied = Assert.Single(records, r => r["caller"] == "ro-" + Id(AdminStack.ReadOnlyToken));
        Assert.Equal(("refused", "PeekMessages", "PermissionDenied"), (denied["kind"], denied["method"], denied["result"]));
        var contents = Assert.Single(records, r => r["kind"] == "read_contents");
        Assert.Equal(("PeekMessages", "OK", "rc-" + Id(AdminStack.ContentsToken)), (contents["method"], contents["result"], contents["caller"]));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(stack.AuditFile));
    }

    [Fact]
    public async Task ATokenRemovedFromItsFileIsRefusedWithoutARestartAndItsReplacementWorks()
    {
        var old = "old-admin-token-" + Guid.NewGuid().ToString("N");
        var replacement = "new-admin-token-" + Guid.NewGuid().ToString("N");
        var readOnly = "read-only-token-" + Guid.NewGuid().ToString("N");
        var tokenFile = Path.Combine(_directory, "admin-tokens");
        var readOnlyFile = Path.Combine(_directory, "read-only-tokens");
        await File.WriteAllTextAsync(tokenFile, old + "\n");
        await File.WriteAllTextAsync(readOnlyFile, "\n");
        var (process, channel, _) = await stack.StartAdminAsync("admin-token-files", new Dictionary<string, string>
        {
            ["Admin:TokenFile"] = tokenFile,
            ["Admin:ReadOnlyTokenFile"] = readOnlyFile,
        });
        await using var _process = process;
        using var _channel = channel;
        var client = new AdminClient(channel);
        Assert.Equal(StatusCode.OK, await OverviewAsync(client, old));
        Assert.Equal(StatusCode.Unauthenticated, await OverviewAsync(client, readOnly));

        await File.WriteAllTextAsync(tokenFile, replacement + "\n");
        await File.WriteAllTextAsync(readOnlyFile, readOnly + "\n");
        var changed = Stopwatch.StartNew();
        await Eventually.UntilAsync(async () => await OverviewAsync(client, old) == StatusCode.Unauthenticated, Patience, "the removed admin token to be refused");
        var took = changed.Elapsed;

        Assert.Equal(StatusCode.OK, await OverviewAsync(client, replacement));
        Assert.Equal(StatusCode.OK, await OverviewAsync(client, readOnly));
        Assert.Equal(StatusCode.PermissionDenied, await PauseAsync(client, readOnly));
        // Files are looked at again every 2 s; the bound leaves room for a slow machine, not for a restart.
        Assert.True(took < TimeSpan.FromSeconds(10), $"revoked after {took}");
    }

    [Theory]
    [InlineData("Admin:Tokens", false)]
    [InlineData("Admin:TokenFile", true)]
    [InlineData("Admin:ReadOnlyTokens", false)]
    [InlineData("Admin:ContentsTokenFile", true)]
    public async Task ATokenShorterThan32CharactersStopsStartUpNamingTheSettingButNotTheToken(string setting, bool inAFile)
    {
        const string Short = "short-token-0123456789";
        var value = Short;
        if (inAFile)
        {
            value = Path.Combine(_directory, $"tokens-{Guid.NewGuid():N}");
            await File.WriteAllTextAsync(value, AdminStack.Token + "\n" + Short + "\n");
        }

        var settings = new Dictionary<string, string> { ["Admin:Tokens"] = AdminStack.Token, [setting] = value };
        await using var admin = ServiceBinaries.Start("admin-short-token", AdminStack.AdminAssembly, AdminStack.Settings(FreePort.Next(), settings));

        var exitCode = await admin.WaitForExitAsync(Patience);

        Assert.Equal(2, exitCode);
        Assert.Contains(setting, admin.Output, StringComparison.Ordinal);
        Assert.Contains($"token number {(inAFile ? 2 : 1)} is shorter than 32 characters", admin.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Short, admin.Output, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>A channel holding one waiting message as ingress stores it from a <c>bearer</c> endpoint: the sender's
    /// Authorization header, a body and a query string.</summary>
    private async Task<(string Name, Message Published)> ChannelWithACredentialBearingMessageAsync()
    {
        var name = TestChannels.UniqueName("contents");
        await stack.Client.CreateChannelAsync(
            new CreateChannelRequest { Channel = name, Endpoints = { new EndpointConfig { Id = name, Verification = new Verification { Github = new Verification.Types.GitHub { Secret = "s3cret-s3cret" } } } } },
            AdminStack.Bearer(AdminStack.Token));
        var message = TestMessages.NewMessage(name, """{"order":42}""");
        message.Headers.Add(new Header { Name = "Authorization", Value = ByteString.CopyFromUtf8(SenderCredential) });
        message.QueryString = "signature=abc";
        await new PublishService.PublishServiceClient(stack.QueueManager.Internal.Channel)
            .PublishAsync(new PublishRequest { Message = message }, AdminStack.Bearer(AdminStack.InternalToken));
        return (name, message);
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

    private static async Task<StatusCode> OverviewAsync(AdminClient client, string token)
    {
        try
        {
            await client.GetOverviewAsync(new GetOverviewRequest(), AdminStack.Bearer(token));
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    private static async Task<StatusCode> PauseAsync(AdminClient client, string token)
    {
        try
        {
            await client.PauseChannelAsync(new PauseChannelRequest { Channel = "anything" }, AdminStack.Bearer(token));
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }
}

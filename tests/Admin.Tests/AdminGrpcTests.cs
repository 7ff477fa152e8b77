using Grpc.Core;
using Grpc.Reflection.V1;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Admin.Tests;

/// <summary>The admin gRPC API as operators use it: authentication, read-only tokens, forwarding, reflection.</summary>
public sealed class AdminGrpcTests(AdminStack stack) : IClassFixture<AdminStack>
{
    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    [Fact]
    public async Task AnAdminTokenManagesChannelsThroughTheQueueManager()
    {
        var name = UniqueName("admin");
        var headers = AdminStack.Bearer(AdminStack.Token);

        var created = await stack.Client.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { new EndpointConfig { Id = name, Verification = TestChannels.Unverified } } }, headers);
        var fetched = await stack.Client.GetChannelAsync(new GetChannelRequest { Channel = name }, headers);
        var paused = await stack.Client.PauseChannelAsync(new PauseChannelRequest { Channel = name }, headers);
        var stats = await stack.Client.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = name }, headers);
        var overview = await stack.Client.GetOverviewAsync(new GetOverviewRequest(), headers);
        var rotated = await stack.Client.RotateTokenAsync(new RotateTokenRequest { Channel = name, GracePeriodSeconds = 0 }, headers);
        await stack.Client.DeleteChannelAsync(new DeleteChannelRequest { Channel = name }, headers);
        var gone = await Assert.ThrowsAsync<RpcException>(() => stack.Client.GetChannelAsync(new GetChannelRequest { Channel = name }, headers).ResponseAsync);

        Assert.StartsWith("wct_", created.Token, StringComparison.Ordinal);
        Assert.Equal(name, fetched.Channel.Name);
        Assert.Equal(10000u, fetched.Channel.Settings.MaxQueueSize);
        Assert.True(paused.Channel.Settings.Paused);
        Assert.Equal(0u, stats.Stats.MessagesQueued);
        Assert.True(overview.Overview.TotalChannels >= 1);
        Assert.NotEqual(created.Token, rotated.NewToken);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        Assert.Contains(name, gone.Status.Detail, StringComparison.Ordinal);
        await stack.Admin.WaitForLineAsync(l => l.Contains($": DeleteChannel on channel '{name}': OK", StringComparison.Ordinal), QueueManagerProcess.Patience);
        Assert.DoesNotContain(created.Token, stack.Admin.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(AdminStack.Token, stack.Admin.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryChangeLeavesOneAuditLineAndReadsOfSettingsLeaveNone()
    {
        var name = UniqueName("audited");
        var missing = UniqueName("missing");
        var headers = AdminStack.Bearer(AdminStack.Token);
        using var http = new HttpClient { BaseAddress = stack.Http, Timeout = QueueManagerProcess.Patience };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminStack.Token);

        await stack.Client.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { new EndpointConfig { Id = name, Verification = TestChannels.Unverified } } }, headers);
        await stack.Client.GetChannelAsync(new GetChannelRequest { Channel = name }, headers);
        await stack.Client.GetChannelStatsAsync(new GetChannelStatsRequest { Channel = name }, headers);
        await stack.Client.PauseChannelAsync(new PauseChannelRequest { Channel = name }, headers);
        await Assert.ThrowsAsync<RpcException>(() => stack.Client.PauseChannelAsync(new PauseChannelRequest { Channel = missing }, headers).ResponseAsync);
        using var resumed = await http.PostAsync(new Uri($"/admin/webhook-connect/channels/{name}/resume", UriKind.Relative), null);
        using var read = await http.GetAsync(new Uri($"/admin/webhook-connect/channels/{name}", UriKind.Relative));
        await stack.Admin.WaitForLineAsync(l => l.Contains($": ResumeChannel on channel '{name}': OK", StringComparison.Ordinal), QueueManagerProcess.Patience);

        // "audit: write by rw-1a2b3c4d: PauseChannel on channel 'x': OK  {parameters}"
        var audited = stack.Admin.Output.Split('\n')
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"audit: (\w+) by (\S+): (\w+) on channel '([^']*)': (\w+)"))
            .Where(m => m.Success && (m.Groups[4].Value == name || m.Groups[4].Value == missing))
            .ToList();
        Assert.Equal(System.Net.HttpStatusCode.OK, resumed.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(
            [$"write CreateChannel {name} OK", $"write PauseChannel {name} OK", $"write PauseChannel {missing} NotFound", $"write ResumeChannel {name} OK"],
            audited.Select(m => $"{m.Groups[1].Value} {m.Groups[3].Value} {m.Groups[4].Value} {m.Groups[5].Value}").ToList());
        Assert.Single(audited.Select(m => m.Groups[2].Value).Distinct());
        Assert.DoesNotContain(AdminStack.Token, stack.Admin.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidationErrorsOfTheQueueManagerReachTheOperatorUnchanged()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => stack.Client.CreateChannelAsync(
            new CreateChannelRequest { Channel = "Bad Name", Endpoints = { new EndpointConfig { Id = "x", Verification = TestChannels.Unverified } } }, AdminStack.Bearer(AdminStack.Token)).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("Bad Name", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallsWithoutOrWithAWrongTokenAreUnauthenticated()
    {
        var none = await Assert.ThrowsAsync<RpcException>(() => stack.Client.ListChannelsAsync(new ListChannelsRequest()).ResponseAsync);
        var wrong = await Assert.ThrowsAsync<RpcException>(() => stack.Client.ListChannelsAsync(new ListChannelsRequest(), AdminStack.Bearer("not-the-token")).ResponseAsync);
        var internalToken = await Assert.ThrowsAsync<RpcException>(() => stack.Client.ListChannelsAsync(new ListChannelsRequest(), AdminStack.Bearer(AdminStack.InternalToken)).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, none.StatusCode);
        Assert.Contains("Bearer", none.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, internalToken.StatusCode);
    }

    [Fact]
    public async Task AReadOnlyTokenMayReadButNotChange()
    {
        var readOnly = AdminStack.Bearer(AdminStack.ReadOnlyToken);

        var listed = await stack.Client.ListChannelsAsync(new ListChannelsRequest(), readOnly);
        var overview = await stack.Client.GetOverviewAsync(new GetOverviewRequest(), readOnly);
        var denied = await Assert.ThrowsAsync<RpcException>(() => stack.Client.CreateChannelAsync(
            new CreateChannelRequest { Channel = UniqueName("ro"), Endpoints = { new EndpointConfig { Id = UniqueName("ro"), Verification = TestChannels.Unverified } } }, readOnly).ResponseAsync);

        Assert.NotNull(listed);
        Assert.NotNull(overview.Overview);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Contains("CreateChannel", denied.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReflectionAndHealthNeedNoToken()
    {
        using var reflection = new ServerReflection.ServerReflectionClient(stack.Channel).ServerReflectionInfo();
        await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await reflection.RequestStream.CompleteAsync();
        Assert.True(await reflection.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(QueueManagerProcess.Patience));

        var services = reflection.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("webhookconnect.admin.v1.AdminService", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    [Fact]
    public async Task TheAdminServiceRefusesToStartWithoutAToken()
    {
        await using var admin = ServiceBinaries.Start("admin-no-token", AdminStack.AdminAssembly, AdminStack.Settings(FreePort.Next(), new Dictionary<string, string>()));

        var exitCode = await admin.WaitForExitAsync(QueueManagerProcess.Patience);

        Assert.Equal(2, exitCode);
        Assert.Contains("Admin:Tokens", admin.Output, StringComparison.Ordinal);
        Assert.Contains("no admin token", admin.Output, StringComparison.Ordinal);
    }
}

using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;
using WebhookConnect.TestKit.Services;

namespace WebhookConnect.Admin.Tests;

/// <summary>Declarative channels (SPEC §3): a YAML file applied at start-up and on change, never deleting.</summary>
public sealed class ChannelsFileTests(AdminStack stack) : IClassFixture<AdminStack>, IDisposable
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;
    private readonly string _directory = Directory.CreateTempSubdirectory("wc-channels-").FullName;

    [Fact]
    public async Task TheFileIsAppliedAtStartAndAgainWhenItChangesWithoutDeletingAnything()
    {
        var orders = $"orders-{Guid.NewGuid().ToString("N")[..6]}";
        var audit = $"audit-{Guid.NewGuid().ToString("N")[..6]}";
        var token = "wct_file_token_" + Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(Path.Combine(_directory, "orders-token"), token + "\n");
        await File.WriteAllTextAsync(Path.Combine(_directory, "github-secret"), "gh-secret\n");
        var file = Path.Combine(_directory, "channels.yaml");
        await File.WriteAllTextAsync(file, $"""
            channels:
              - name: {orders}
                token_file: {Path.Combine(_directory, "orders-token")}
                settings:
                  max_in_flight: 50
                  ack_timeout: 45s
                  paused: false
                endpoints:
                  - id: {orders}
                    verification:
                      github:
                        secret_file: {Path.Combine(_directory, "github-secret")}
              - name: {audit}
                endpoints:
                  - id: {audit}
                    verification:
                      none: {"{}"}
            """);
        await using var admin = await StartAdminAsync(file);
        var client = new AdminService.AdminServiceClient(admin.Channel);
        var headers = AdminStack.Bearer(AdminStack.Token);

        var first = await WaitForChannelAsync(client, orders, c => c.Settings.MaxInFlight == 50);
        Assert.Equal(TimeSpan.FromSeconds(45), first.Settings.AckTimeout.ToTimeSpan());
        Assert.True(first.Endpoints.Single().Verification.HasSecret);
        Assert.Equal("", first.Endpoints.Single().Verification.Github.Secret);
        Assert.NotNull(await WaitForChannelAsync(client, audit, _ => true));
        var same = await client.RotateTokenAsync(new RotateTokenRequest { Channel = orders, Token = token }, headers);
        Assert.False(same.Rotated, "the token from token_file is the channel's current token");

        // An endpoint added by an operator is not in the file and must survive the next apply.
        await client.AddEndpointAsync(new AddEndpointRequest { Channel = orders, Endpoint = new EndpointConfig { Id = orders + "-manual", Verification = TestChannels.Unverified } }, headers);
        await File.WriteAllTextAsync(file, (await File.ReadAllTextAsync(file)).Replace("max_in_flight: 50", "max_in_flight: 7", StringComparison.Ordinal));

        var changed = await WaitForChannelAsync(client, orders, c => c.Settings.MaxInFlight == 7);
        Assert.Contains(changed.Endpoints, e => e.Id == orders + "-manual");
        Assert.Contains(changed.Endpoints, e => e.Id == orders);
        Assert.NotNull(await WaitForChannelAsync(client, audit, _ => true));
        Assert.DoesNotContain(token, admin.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("gh-secret", admin.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApplyingTheSameFileAgainChangesNothing()
    {
        var name = $"again-{Guid.NewGuid().ToString("N")[..6]}";
        await File.WriteAllTextAsync(Path.Combine(_directory, "token"), "wct_again_" + Guid.NewGuid().ToString("N"));
        var file = Path.Combine(_directory, "channels.yaml");
        await File.WriteAllTextAsync(file, $"channels:\n  - name: {name}\n    token_file: {Path.Combine(_directory, "token")}\n    settings: {{ ttl: 2h, max_in_flight: 12, retry_backoff: {{ initial: 500ms, max: 10m }} }}\n    endpoints:\n      - id: {name}\n        idempotency_header: X-GitHub-Delivery\n        verification: {{ github: {{ secret: s3cret }} }}\n");
        ChannelInfo first;
        await using (var admin = await StartAdminAsync(file))
        {
            first = await WaitForChannelAsync(new AdminService.AdminServiceClient(admin.Channel), name, c => c.Settings.MaxInFlight == 12);
        }

        await using var again = await StartAdminAsync(file);
        await again.Process.WaitForLineAsync(l => l.Contains($"channel {name} updated (token rotated: False)", StringComparison.Ordinal), Patience);
        var second = (await new AdminService.AdminServiceClient(again.Channel).GetChannelAsync(new GetChannelRequest { Channel = name }, AdminStack.Bearer(AdminStack.Token))).Channel;

        Assert.Equal(first, second);
        Assert.Equal(TimeSpan.FromHours(2), first.Settings.Ttl.ToTimeSpan());
        Assert.Equal(TimeSpan.FromMilliseconds(500), first.Settings.RetryBackoff.Initial.ToTimeSpan());
        Assert.Equal(TimeSpan.FromMinutes(10), first.Settings.RetryBackoff.Max.ToTimeSpan());
    }

    [Fact]
    public async Task AFileThatBecomesInvalidIsLoggedAndTheLastGoodOneStaysInEffect()
    {
        var orders = $"orders-{Guid.NewGuid().ToString("N")[..6]}";
        var other = $"other-{Guid.NewGuid().ToString("N")[..6]}";
        string Valid(int maxInFlight) => $"channels:\n  - name: {orders}\n    settings: {{ max_in_flight: {maxInFlight} }}\n    endpoints: [{{ id: {orders}, verification: {{ none: {{}} }} }}]\n";
        var file = Path.Combine(_directory, "channels.yaml");
        await File.WriteAllTextAsync(file, Valid(50));
        var managementPort = FreePort.Next();
        await using var admin = await StartAdminAsync(file, managementPort);
        var client = new AdminService.AdminServiceClient(admin.Channel);
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort.ToString(CultureInfo.InvariantCulture)}"), Timeout = Patience };
        await WaitForChannelAsync(client, orders, c => c.Settings.MaxInFlight == 50);
        await WaitForMetricAsync(management, "webhookconnect_admin_channels_file_applied 1");

        // Not YAML the admin service accepts: nothing is applied, the error names the field.
        await File.WriteAllTextAsync(file, Valid(7) + "    colour: red\n");
        await Eventually.UntilAsync(() => admin.Process.Output.Contains("unknown field 'colour'", StringComparison.Ordinal), Patience, "the invalid file to be logged");
        await WaitForMetricAsync(management, "webhookconnect_admin_channels_file_applied 0");
        using var ready = await management.GetAsync(new Uri("/readyz", UriKind.Relative));
        var unchanged = await client.GetChannelAsync(new GetChannelRequest { Channel = orders }, AdminStack.Bearer(AdminStack.Token));

        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(50u, unchanged.Channel.Settings.MaxInFlight);

        // Valid YAML the queue-manager refuses (an endpoint URL another channel owns): logged with the channel named.
        await File.WriteAllTextAsync(file, Valid(50) + $"  - name: {other}\n    endpoints: [{{ id: {orders}, verification: {{ none: {{}} }} }}]\n");
        await Eventually.UntilAsync(() => admin.Process.Output.Contains($"channel '{other}'", StringComparison.Ordinal), Patience, "the refused entry to be logged");
        await WaitForMetricAsync(management, "webhookconnect_admin_channels_file_applied 0");

        // Fixed: applied again.
        await File.WriteAllTextAsync(file, Valid(9));
        var fixedChannel = await WaitForChannelAsync(client, orders, c => c.Settings.MaxInFlight == 9);
        await WaitForMetricAsync(management, "webhookconnect_admin_channels_file_applied 1");

        Assert.Equal(orders, fixedChannel.Name);
        Assert.Single((await client.GetChannelAsync(new GetChannelRequest { Channel = orders }, AdminStack.Bearer(AdminStack.Token))).Channel.Endpoints);
    }

    [Theory]
    [InlineData("channels:\n  - name: x\n    endpoints: [{ id: x, verification: { none: {} } }]\n    colour: red\n", "channels[0]: unknown field 'colour'")]
    [InlineData("channels:\n  - name: x\n    settings: { max_inflight: 5 }\n    endpoints: [{ id: x, verification: { none: {} } }]\n", "max_inflight")]
    [InlineData("channels:\n  - name: x\n    token_env: WC_TEST_SURELY_UNSET_VARIABLE\n    endpoints: [{ id: x, verification: { none: {} } }]\n", "channels[0] (x).token_env: environment variable 'WC_TEST_SURELY_UNSET_VARIABLE' is not set")]
    [InlineData("channels: [\n", "not valid YAML or JSON")]
    [InlineData("channels:\n  - name: x\n    settings: { ttl: soon }\n    endpoints: [{ id: x, verification: { none: {} } }]\n", "channels[0] (x): ttl = 'soon' is not a duration")]
    public async Task AnInvalidFileStopsStartUpNamingTheEntryAndField(string content, string expected)
    {
        var file = Path.Combine(_directory, $"bad-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, content);
        await using var admin = ServiceBinaries.Start("admin-bad-file", AdminStack.AdminAssembly, AdminStack.Settings(FreePort.Next(), new Dictionary<string, string>
        {
            ["Admin:Tokens"] = AdminStack.Token,
            ["Admin:ChannelsFile"] = file,
        }));

        var exitCode = await admin.WaitForExitAsync(Patience);

        Assert.Equal(2, exitCode);
        Assert.Contains("Admin:ChannelsFile", admin.Output, StringComparison.Ordinal);
        Assert.Contains(expected, admin.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("non-secret-field", "channels[0] (x).endpoints[0].idempotency_header_file: 'idempotency_header' is not a secret field")]
    [InlineData("outside-directory", "channels[0] (x).endpoints[0].verification.github.secret_file: refused: '{outside}' is outside the directories secrets may be read from ({directory}; setting Admin:ChannelsFileSecretDirectories)")]
    [InlineData("admin-token-file", "channels[0] (x).token_file: refused: '{tokens}' is an admin token file")]
    [InlineData("own-setting", "channels[0] (x).token_env: refused: environment variable 'Admin__Tokens' looks like a setting of this service")]
    public async Task SubstitutionIsRefusedOutsideSecretFieldsAndAllowedPlacesNamingTheFieldAndTheReason(string attack, string expected)
    {
        // The attacker edits the channels file to pull a readable file or setting into the channel: the admin token
        // file, a file elsewhere on disk, or the service's own Admin__Tokens.
        var outside = Path.Combine(Directory.CreateTempSubdirectory("wc-outside-").FullName, "secret");
        await File.WriteAllTextAsync(outside, "not-for-the-channels-file");
        var tokens = Path.Combine(_directory, "admin-tokens");
        await File.WriteAllTextAsync(tokens, AdminStack.Token + "\n");
        var entry = attack switch
        {
            "non-secret-field" => $"endpoints: [{{ id: x, idempotency_header_file: {tokens} }}]",
            "outside-directory" => $"endpoints: [{{ id: x, verification: {{ github: {{ secret_file: {outside} }} }} }}]",
            "admin-token-file" => $"token_file: {tokens}\n    endpoints: [{{ id: x }}]",
            _ => "token_env: Admin__Tokens\n    endpoints: [{ id: x }]",
        };
        var file = Path.Combine(_directory, $"attack-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, $"channels:\n  - name: x\n    {entry}\n");
        await using var admin = ServiceBinaries.Start("admin-substitution", AdminStack.AdminAssembly, AdminStack.Settings(FreePort.Next(), new Dictionary<string, string>
        {
            ["Admin:TokenFile"] = tokens,
            ["Admin:ChannelsFile"] = file,
        }));

        var exitCode = await admin.WaitForExitAsync(Patience);
        Directory.Delete(Path.GetDirectoryName(outside)!, recursive: true);

        Assert.Equal(2, exitCode);
        Assert.Contains("Admin:ChannelsFile", admin.Output, StringComparison.Ordinal);
        Assert.Contains(expected.Replace("{outside}", outside, StringComparison.Ordinal).Replace("{directory}", _directory, StringComparison.Ordinal).Replace("{tokens}", tokens, StringComparison.Ordinal), admin.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(AdminStack.Token, admin.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATokenChangedThroughTheFileKeepsThePreviousOneExactlyAsLongAsTheFileSays()
    {
        var name = $"grace-{Guid.NewGuid().ToString("N")[..6]}";
        var file = Path.Combine(_directory, "channels.yaml");
        string Version(string token, string grace) =>
            $"channels:\n  - name: {name}\n    token: {token}\n{grace}    endpoints: [{{ id: {name}, verification: {{ github: {{ secret: s3cret }} }} }}]\n";
        var first = "wct_first_" + Guid.NewGuid().ToString("N");
        var second = "wct_second_" + Guid.NewGuid().ToString("N");
        var third = "wct_third_" + Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(file, Version(first, ""));
        await using var admin = await StartAdminAsync(file);
        var client = new AdminService.AdminServiceClient(admin.Channel);
        var created = await WaitForChannelAsync(client, name, _ => true);

        await File.WriteAllTextAsync(file, Version(second, "    token_grace_period_seconds: 0\n"));
        var revokedAtOnce = await WaitForChannelAsync(client, name, c => c.TokenIssuedAt != created.TokenIssuedAt);
        var firstRefused = await TestConnector.RefusedAsync(stack.QueueManager.Channel, first, new ConnectRequest { Subscribe = new Subscribe { Channel = name } });
        await File.WriteAllTextAsync(file, Version(third, "    token_grace_period_seconds: 600\n"));
        var withGrace = await WaitForChannelAsync(client, name, c => c.TokenIssuedAt != revokedAtOnce.TokenIssuedAt);

        Assert.Null(revokedAtOnce.PreviousTokenExpiresAt);
        Assert.Equal(StatusCode.Unauthenticated, firstRefused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(600), withGrace.PreviousTokenExpiresAt.ToDateTimeOffset() - withGrace.TokenIssuedAt.ToDateTimeOffset());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // Prometheus reads "name{} 1" (what the exporter writes for a series without labels) as "name 1".
    private static async Task WaitForMetricAsync(HttpClient management, string line) =>
        await Eventually.UntilAsync(
            async () => (await management.GetStringAsync(new Uri("/metrics", UriKind.Relative))).Replace("{} ", " ", StringComparison.Ordinal).Split('\n').Contains(line),
            Patience,
            $"/metrics to show '{line}'");

    private async Task<AdminProcess> StartAdminAsync(string file, int? managementPort = null)
    {
        var grpcPort = FreePort.Next();
        var process = ServiceBinaries.Start("admin-file", AdminStack.AdminAssembly, AdminStack.Settings(grpcPort, new Dictionary<string, string>
        {
            ["Management:Port"] = (managementPort ?? FreePort.Next()).ToString(CultureInfo.InvariantCulture),
            ["Admin:Tokens"] = AdminStack.Token,
            ["Admin:QueueManager"] = stack.QueueManager.InternalAddress,
            ["Admin:QueueManagerToken"] = AdminStack.InternalToken,
            ["Admin:ChannelsFile"] = file,
        }));
        return new AdminProcess(process, GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort.ToString(CultureInfo.InvariantCulture)}"));
    }

    private static async Task<ChannelInfo> WaitForChannelAsync(AdminService.AdminServiceClient client, string name, Func<ChannelInfo, bool> condition)
    {
        ChannelInfo? channel = null;
        await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    channel = (await client.GetChannelAsync(new GetChannelRequest { Channel = name }, AdminStack.Bearer(AdminStack.Token))).Channel;
                    return condition(channel);
                }
                catch (RpcException ex) when (ex.StatusCode is StatusCode.NotFound or StatusCode.Unavailable)
                {
                    return false;
                }
            },
            Patience,
            $"channel {name} applied from the file");
        return channel!;
    }

    private sealed class AdminProcess(ChildProcess process, GrpcChannel channel) : IAsyncDisposable
    {
        public ChildProcess Process => process;

        public GrpcChannel Channel => channel;

        public async ValueTask DisposeAsync()
        {
            channel.Dispose();
            await process.DisposeAsync();
        }
    }
}

using System.Text.RegularExpressions;
using Google.Protobuf;
using WebhookConnect.Admin.Tests;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Cli.Tests;

/// <summary>
/// The real <c>webhookconnect</c> process (tools/WebhookConnect.Cli) against the real admin service, queue-manager and
/// Redis (<see cref="AdminStack"/>): help, argument and connection errors with their exit codes, the tail's lines for
/// a published and acked webhook, and resend.
/// </summary>
public sealed partial class CliTests(AdminStack stack) : IClassFixture<AdminStack>
{
    private static readonly TimeSpan Patience = QueueManagerProcess.Patience;

    [Fact]
    public async Task HelpNamesTheCommandsTheTokenSettingsAndTheExitCodes()
    {
        var (code, output) = await RunAsync(["--help"], token: null);

        Assert.Equal(0, code);
        foreach (var expected in new[] { "tail", "resend", "messages", "get", "--admin", "--token-file", "WEBHOOKCONNECT_TOKEN", "WEBHOOKCONNECT_ADMIN", "http://127.0.0.1:5002", "Exit codes: 0 done" })
        {
            Assert.Contains(expected, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task WithoutATokenItSaysHowToGiveOneAndExitsWith2()
    {
        var (code, output) = await RunAsync(["tail", "demo", "--admin", stack.Channel.Target.Insert(0, "http://")], token: null);

        Assert.Equal(2, code);
        Assert.Contains("no admin token: set WEBHOOKCONNECT_TOKEN or pass --token-file <path>", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingArgumentOrATokenOnTheCommandLineIsAUsageErrorWithExitCode2()
    {
        var (missing, missingOutput) = await RunAsync(["resend", "demo"], AdminStack.Token);
        var (plainToken, plainTokenOutput) = await RunAsync(["tail", "demo", "--token", "secret"], AdminStack.Token);

        Assert.Equal(2, missing);
        Assert.Contains("Run 'webhookconnect --help'", missingOutput, StringComparison.Ordinal);
        Assert.Contains("message-id", missingOutput, StringComparison.Ordinal);
        Assert.Equal(2, plainToken);
        Assert.Contains("--token", plainTokenOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnreachableAdminIsNamedByItsAddressWithExitCode3()
    {
        var address = $"http://127.0.0.1:{FreePort.Next()}";

        var (code, output) = await RunAsync(["messages", "demo", "--admin", address], AdminStack.Token);

        Assert.Equal(3, code);
        Assert.Contains($"cannot reach the admin API at {address}/", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWrongTokenExitsWith4AndAnUnknownMessageWith1SayingNotFound()
    {
        var name = await CreateChannelAsync();

        var (wrong, wrongOutput) = await RunAsync(["get", name, "msg_x", "--admin", AdminAddress], "not-the-admin-token-0123456789abcdef");
        var (missing, missingOutput) = await RunAsync(["resend", name, "msg_nothing_here", "--admin", AdminAddress], AdminStack.Token);

        Assert.Equal(4, wrong);
        Assert.Contains($"the admin API at {AdminAddress}/ refused the token", wrongOutput, StringComparison.Ordinal);
        Assert.Equal(1, missing);
        Assert.Contains($"not found at {AdminAddress}/", missingOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TailPrintsALineWhenAWebhookIsAcceptedDeliveredAndAckedAndAgainAfterResendThenCtrlCEndsItWith0()
    {
        var (name, token) = await CreateChannelWithTokenAsync();
        var tokenFile = Path.Combine(Directory.CreateTempSubdirectory("wc-cli-token-").FullName, "token");
        await File.WriteAllTextAsync(tokenFile, AdminStack.Token + "\n");
        await using var tail = Start(["tail", name, "--admin", AdminAddress, "--token-file", tokenFile], token: null);
        await tail.WaitForLineAsync(l => l.Contains($"Tailing channel {name} at {AdminAddress}/", StringComparison.Ordinal), Patience);
        await using var connector = await TestConnector.ConnectAsync(stack.QueueManager.Channel, name, token, connectorId: "connector-a");

        var message = TestMessages.NewMessage(name, new string('x', 1234));
        message.EndpointId = name;
        await new PublishService.PublishServiceClient(stack.QueueManager.Internal.Channel)
            .PublishAsync(new PublishRequest { Message = message }, AdminStack.Bearer(AdminStack.InternalToken));
        var delivery = await connector.NextAsync(Patience);
        var ack = new Ack { MessageIds = { message.MessageId }, Reports = { new TargetReport { MessageId = message.MessageId, TargetStatusCode = 200, TargetDuration = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromMilliseconds(12)) } } };
        await connector.SendAsync(new ConnectRequest { Ack = ack });
        var acked = await tail.WaitForLineAsync(l => l.Contains("<-- [200] acked", StringComparison.Ordinal), Patience);
        var (resendCode, resendOutput) = await RunAsync(["resend", name, message.MessageId, "--admin", AdminAddress], AdminStack.Token);
        var again = await connector.NextAsync(Patience);
        await connector.AckAsync(message.MessageId);
        var resent = await tail.WaitForLineAsync(l => l.Contains("--> resent", StringComparison.Ordinal), Patience);
        tail.Signal(ChildProcess.SigInt);
        var exit = await tail.WaitForExitAsync(Patience);

        Assert.Equal(message.MessageId, delivery.Message.MessageId);
        var lines = tail.Output.Split('\n');
        Assert.Contains(lines, l => AcceptedLine().IsMatch(l) && l.Contains($"--> accepted  {message.MessageId}  POST /webhook/{name}  1 234 B", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains($"-> delivered {message.MessageId}  attempt 1 via connector-a", StringComparison.Ordinal));
        Assert.EndsWith($"<-- [200] acked  {message.MessageId}  attempt 1  12 ms via connector-a", acked, StringComparison.Ordinal);
        Assert.Equal(0, resendCode);
        Assert.Contains($"resent {message.MessageId} on channel {name} (resend 1)", resendOutput, StringComparison.Ordinal);
        Assert.Equal((message.MessageId, 1u), (again.Message.MessageId, again.Message.Resend));
        Assert.Contains($"--> resent    {message.MessageId}  POST /webhook/{name}  1 234 B  (resend 1)", resent, StringComparison.Ordinal);
        Assert.Equal(0, exit);
    }

    [Fact]
    public async Task TailWithJsonPrintsOneTailChannelResponsePerLine()
    {
        var name = await CreateChannelAsync();
        await using var tail = Start(["tail", name, "--json", "--admin", AdminAddress], AdminStack.Token);
        var started = await tail.WaitForLineAsync(l => l.Contains("TAIL_EVENT_KIND_STARTED", StringComparison.Ordinal), Patience);

        var message = TestMessages.NewMessage(name, "{}");
        await new PublishService.PublishServiceClient(stack.QueueManager.Internal.Channel)
            .PublishAsync(new PublishRequest { Message = message }, AdminStack.Bearer(AdminStack.InternalToken));
        var accepted = await tail.WaitForLineAsync(l => l.Contains("TAIL_EVENT_KIND_ACCEPTED", StringComparison.Ordinal), Patience);

        var parsed = JsonParser.Default.Parse<TailChannelResponse>(Unprefixed(accepted));
        Assert.Equal(TailEventKind.Started, JsonParser.Default.Parse<TailChannelResponse>(Unprefixed(started)).Kind);
        Assert.Equal((TailEventKind.Accepted, message.MessageId, 2u), (parsed.Kind, parsed.MessageId, parsed.BodySize));
    }

    private string AdminAddress => $"http://{stack.Channel.Target}";

    [GeneratedRegex(@"^(\S+ )?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  --> accepted")]
    private static partial Regex AcceptedLine();

    /// <summary>A captured line without ChildProcess's stream prefix (what precedes the JSON object).</summary>
    private static string Unprefixed(string line) => line[line.IndexOf('{', StringComparison.Ordinal)..];

    private async Task<string> CreateChannelAsync() => (await CreateChannelWithTokenAsync()).Name;

    private async Task<(string Name, string Token)> CreateChannelWithTokenAsync()
    {
        var name = TestChannels.UniqueName("cli");
        var created = await stack.Client.CreateChannelAsync(
            new CreateChannelRequest { Channel = name, Endpoints = { new EndpointConfig { Id = name, Verification = TestChannels.Unverified } } },
            AdminStack.Bearer(AdminStack.Token));
        return (name, created.Token);
    }

    private static ChildProcess Start(IEnumerable<string> args, string? token) =>
        ChildProcess.Start("webhookconnect", "dotnet", args.Prepend(CliAssembly), new Dictionary<string, string?>
        {
            ["WEBHOOKCONNECT_TOKEN"] = token,
            ["WEBHOOKCONNECT_ADMIN"] = null,
        });

    private static async Task<(int Code, string Output)> RunAsync(IEnumerable<string> args, string? token)
    {
        await using var process = Start(args, token);
        var code = await process.WaitForExitAsync(Patience);
        return (code, process.Output);
    }

    private static string CliAssembly
    {
        get
        {
            var path = Path.Combine(RepoPaths.Root, "tools", "WebhookConnect.Cli", "bin", ServiceBinaries.Configuration, "net10.0", "webhookconnect.dll");
            return File.Exists(path) ? path : throw new InvalidOperationException($"The CLI is not built at {path}; run: dotnet build -c {ServiceBinaries.Configuration} tools/WebhookConnect.Cli");
        }
    }
}

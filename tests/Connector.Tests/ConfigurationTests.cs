using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Connector.Tests.Support;

namespace WebhookConnect.Connector.Tests;

/// <summary>SPEC §9 configuration: file &lt; environment &lt; flags, each layer overriding only the settings it names.</summary>
public sealed class ConfigurationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("wc-connector-config-").FullName;

    private string FileConfig => $"""
        queue_manager:
          address: file-qm:5001
        subscriptions:
          - channel: from-file
            token_file: {_directory}/token
            max_in_flight: 11
            default_target:
              url: http://127.0.0.1:3000/file
              headers:
                X-From: file
            targets:
              github:
                url: http://127.0.0.1:3001/gh
                method: PUT
        retry:
          attempts: 1
        drain_grace_period: "00:00:03"
        """;

    public ConfigurationTests() => File.WriteAllText(Path.Combine(_directory, "token"), "t");

    public static TheoryData<bool, bool> LayerCombinations => new() { { false, false }, { true, false }, { false, true }, { true, true } };

    [Theory]
    [MemberData(nameof(LayerCombinations))]
    public void EachLayerOverridesOnlyTheSettingsItNames(bool withEnvironment, bool withFlags)
    {
        var options = Effective(withEnvironment, withFlags, FileConfig, out _);

        // Named by every layer: the highest layer present wins.
        var winner = withFlags ? "flag" : withEnvironment ? "env" : "file";
        Assert.Equal($"{winner}-qm:5001", options.QueueManager.Address);
        Assert.Equal(winner switch { "flag" => 33, "env" => 22, _ => 11 }, options.Subscriptions[0].MaxInFlight);
        Assert.Equal(winner switch { "flag" => 3, "env" => 2, _ => 1 }, options.Retry.Attempts);

        // Named by the file and the environment only: flags leave it alone.
        Assert.Equal(TimeSpan.FromSeconds(withEnvironment ? 4 : 3), options.DrainGracePeriod);

        // Named by the file only: untouched by the others, even inside the subscription the others change.
        var subscription = Assert.Single(options.Subscriptions);
        Assert.Equal("from-file", subscription.Channel);
        Assert.Equal(Path.Combine(_directory, "token"), subscription.TokenFile);
        Assert.Equal("http://127.0.0.1:3000/file", subscription.DefaultTarget!.Url);
        Assert.Equal("file", subscription.DefaultTarget.Headers["X-From"]);
        Assert.Equal(("http://127.0.0.1:3001/gh", "PUT"), (subscription.Targets["github"].Url, subscription.Targets["github"].Method));

        // Named by no layer: the default.
        Assert.Equal(TimeSpan.FromSeconds(30), subscription.DefaultTarget.Timeout);
        Assert.Equal(TimeSpan.FromMilliseconds(200), options.Retry.Delay);
    }

    [Fact]
    public void FlagsAndVariablesAloneCanDescribeAWholeSubscription()
    {
        var environment = new Dictionary<string, string> { ["CONNECTOR__SUBSCRIPTIONS__0__TOKEN_ENV"] = "MY_TOKEN" };
        var options = Bind(Layers(["--channel", "orders", "--target", "http://127.0.0.1:8000/hook", "--max-in-flight", "5", "--set", "subscriptions:0:targets:github:url=http://127.0.0.1:8001/gh", "--set", "reconnect:auth_failure_delay=00:00:02"], environment));

        var subscription = Assert.Single(options.Subscriptions);
        Assert.Equal(("orders", "MY_TOKEN", 5), (subscription.Channel, subscription.TokenEnv, subscription.MaxInFlight));
        Assert.Equal("http://127.0.0.1:8000/hook", subscription.DefaultTarget!.Url);
        Assert.Equal("http://127.0.0.1:8001/gh", subscription.Targets["github"].Url);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Reconnect.AuthFailureDelay);
    }

    [Theory]
    [InlineData("queue_manager:ca_file", "Connector:QueueManager:CaFile")]
    [InlineData("QUEUE_MANAGER__CA_FILE", "Connector:QueueManager:CaFile")]
    [InlineData("Connector:QueueManager:CaFile", "Connector:QueueManager:CaFile")]
    [InlineData("subscriptions:0:targets:my_endpoint:timeout", "Connector:Subscriptions:0:Targets:my_endpoint:Timeout")]
    [InlineData("subscriptions:1:default_target:headers:X-Api_Key", "Connector:Subscriptions:1:DefaultTarget:Headers:X-Api_Key")]
    [InlineData("management:port", "Management:Port")]
    public void EverySpellingOfASettingNamesTheSameKeyAndNamesUnderTargetsAndHeadersAreKept(string written, string key) =>
        Assert.Equal(key, ConnectorConfiguration.Normalize(written.Replace("__", ":", StringComparison.Ordinal)), ignoreCase: true);

    [Fact]
    public async Task TheBinaryLayersFileEnvironmentAndFlagsTheSameWay()
    {
        var config = Path.Combine(_directory, "connector.yaml");
        File.WriteAllText(config, FileConfig + "\nmanagement:\n  port: 7001\n");
        var (code, output) = await ConnectorProcess.RunToExitAsync(
            ["--config", config, "--check", "--queue-manager", "flag-qm:5001", "--management-port", "7003"],
            new Dictionary<string, string?>
            {
                ["CONNECTOR__SUBSCRIPTIONS__0__MAX_IN_FLIGHT"] = "22",
                ["Connector__Retry__Attempts"] = "2",
                ["CONNECTOR__QUEUE_MANAGER__ADDRESS"] = "env-qm:5001",
                ["Management__Port"] = "7002",
                ["Management__Host"] = "127.0.0.1",
            });

        Assert.True(code == 0, output);
        var json = JsonNode.Parse(string.Join('\n', output.Split('\n').Select(line => line.StartsWith("[connector] ", StringComparison.Ordinal) ? line["[connector] ".Length..] : line)))!;
        var connector = json["Connector"]!;
        Assert.Equal("flag-qm:5001", (string)connector["QueueManager"]!["Address"]!);
        Assert.Equal(22, (int)connector["Subscriptions"]![0]!["MaxInFlight"]!);
        Assert.Equal("from-file", (string)connector["Subscriptions"]![0]!["Channel"]!);
        Assert.Equal(2, (int)connector["Retry"]!["Attempts"]!);
        Assert.Equal("00:00:03", (string)connector["DrainGracePeriod"]!);
        Assert.Equal(7003, (int)json["Management"]!["Port"]!);
        Assert.Equal("127.0.0.1", (string)json["Management"]!["Host"]!);
    }

    [Fact]
    public async Task HelpListsEveryOptionWithItsDefault()
    {
        var (code, output) = await ConnectorProcess.RunToExitAsync(["--help"]);

        Assert.Equal(0, code);
        string[] options = ["--config", "--queue-manager", "--insecure", "--ca-file", "--client-cert-file", "--client-key-file", "--connector-id",
            "--channel", "--token-file", "--token-env", "--max-in-flight", "--target", "--retry-attempts", "--retry-delay",
            "--drain-grace-period", "--management-host", "--management-port", "--set", "--protocol", "--queue-manager-http"];
        foreach (var option in options)
        {
            var line = output.Split('\n').SingleOrDefault(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\[connector\]\s+(-\w, )?" + option + " "));
            Assert.True(line is not null, $"{option} is not listed:\n{output}");
            Assert.Contains("[default: ", line, StringComparison.Ordinal);
        }

        Assert.Contains("[default: 127.0.0.1:5001]", output, StringComparison.Ordinal);
        Assert.Contains("[default: 9093]", output, StringComparison.Ordinal);
        Assert.Contains("[default: 00:00:10]", output, StringComparison.Ordinal);
        Assert.DoesNotContain("--token ", output, StringComparison.Ordinal); // tokens never on the command line
    }

    public static TheoryData<string[], string, string> BadConfigurations => new()
    {
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--queue-manager", "http://127.0.0.1:5001"], "", "Invalid configuration: Connector:QueueManager:Address = 'http://127.0.0.1:5001': is plaintext (http://); set Insecure (--insecure)" },
        { ["--channel", "Orders!", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--insecure"], "", "Invalid configuration: Connector:Subscriptions:0:Channel = 'Orders!': must be a channel name" },
        { ["--channel", "orders", "--token-file", "/nonexistent/token", "--target", "http://127.0.0.1:1/x", "--insecure"], "", "Invalid configuration: Connector:Subscriptions:0:TokenFile = '/nonexistent/token': file not found." },
        { ["--channel", "orders", "--token-file", "{token}", "--insecure"], "", "Invalid configuration: Connector:Subscriptions:0:DefaultTarget:Url = (not set): no target" },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "ftp://x", "--insecure"], "", "Invalid configuration: Connector:Subscriptions:0:DefaultTarget:Url = 'ftp://x': must be an absolute http:// or https:// URL." },
        { ["--insecure"], "", "Invalid configuration: Connector:Subscriptions = [] (default): no subscription" },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--insecure"], "CONNECTOR__SUBSCRIPTIONS__0__MAX_IN_FLIGHT=-1", "Invalid configuration: Connector:Subscriptions:0:MaxInFlight = '-1': must be between 0" },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--insecure"], "CONNECTOR__RETRY__ATTEMPTS=many", "Invalid configuration: Connector:Retry:Attempts = 'many': cannot be converted to Int32." },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--insecure", "--management-port", "70000"], "", "Invalid configuration: Management:Port = '70000': must be between 1 and 65535." },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--insecure", "--set", "subscriptions:0:default_target:timeout=soon"], "", "Invalid configuration: Connector:Subscriptions:0:DefaultTarget:Timeout = 'soon': cannot be converted to TimeSpan." },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--insecure", "--drop-headers", "Cookie, X Bad"], "", "Invalid configuration: Connector:DropHeaders = 'Cookie, X Bad': 'X Bad' is not a header name or a prefix ending in '*'" },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--insecure"], "CONNECTOR__ALSO_DROP_HEADERS=*", "Invalid configuration: Connector:AlsoDropHeaders = '*': a lone '*' would drop every header" },
        { ["--max-in-flight", "lots"], "", "Invalid command line: Cannot parse argument 'lots' for option '--max-in-flight'" },
        { ["--config", "{bad-yaml}"], "", "Invalid configuration: --config = '{bad-yaml}': not valid YAML or JSON at line 3" },
        { ["--channel", "orders", "--target", "http://127.0.0.1:1/x", "--insecure", "--set", "subscriptions:0:token=super-secret-token"], "", "Invalid configuration: --set = 'subscriptions:0:token=***': a token on the command line is visible to every user of this machine" },
        { ["--config", "/nonexistent/connector.yaml"], "", "Invalid configuration: --config = '/nonexistent/connector.yaml': cannot read the file" },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--insecure", "--protocol", "http2"], "", "Invalid configuration: Connector:QueueManager:Protocol = 'http2': must be one of grpc, websocket, sse, long-poll, auto." },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--queue-manager", "qm:5001", "--queue-manager-http", "http://qm:5003"], "", "Invalid configuration: Connector:QueueManager:HttpAddress = 'http://qm:5003': is plaintext (http://); set Insecure (--insecure)" },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--insecure", "--queue-manager-http", "http://qm:5003/connect"], "", "Invalid configuration: Connector:QueueManager:HttpAddress = 'http://qm:5003/connect': must be host:port" },
        { ["--channel", "orders", "--token-file", "{token}", "--target", "http://127.0.0.1:1/x", "--insecure"], "CONNECTOR__SUBSCRIPTIONS__0__TOKEN=super-secret-token", "Invalid configuration: Connector:Subscriptions:0:TokenFile = '{token}': set only one of Token, TokenEnv and TokenFile." },
    };

    [Theory]
    [MemberData(nameof(BadConfigurations))]
    public async Task ABadSettingStopsTheConnectorWithExitCode2AndAMessageNamingSettingAndValue(string[] args, string variable, string expected)
    {
        var token = Path.Combine(_directory, "token");
        var badYaml = Path.Combine(_directory, "bad.yaml");
        File.WriteAllText(badYaml, "subscriptions:\n  - channel: [unclosed\n");
        string Fill(string text) => text.Replace("{token}", token, StringComparison.Ordinal).Replace("{bad-yaml}", badYaml, StringComparison.Ordinal);
        var env = new Dictionary<string, string?>();
        if (variable.Length > 0)
        {
            env[variable[..variable.IndexOf('=', StringComparison.Ordinal)]] = variable[(variable.IndexOf('=', StringComparison.Ordinal) + 1)..];
        }

        var (code, output) = await ConnectorProcess.RunToExitAsync(args.Select(Fill), env);

        Assert.True(code == 2, $"exit code {code}:\n{output}");
        Assert.True(output.Contains(Fill(expected), StringComparison.Ordinal), $"expected \"{Fill(expected)}\" in:\n{output}");
        Assert.DoesNotContain("super-secret-token", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal); // no stack trace
    }

    private ConnectorOptions Effective(bool withEnvironment, bool withFlags, string file, out ConnectorLaunch launch)
    {
        var path = Path.Combine(_directory, "connector.yaml");
        File.WriteAllText(path, file);
        var environment = withEnvironment
            ? new Dictionary<string, string>
            {
                ["CONNECTOR__QUEUE_MANAGER__ADDRESS"] = "env-qm:5001",
                ["CONNECTOR__SUBSCRIPTIONS__0__MAX_IN_FLIGHT"] = "22",
                ["Connector__Retry__Attempts"] = "2",
                ["CONNECTOR__DRAIN_GRACE_PERIOD"] = "00:00:04",
                ["UNRELATED"] = "x",
            }
            : [];
        string[] flags = withFlags ? ["--queue-manager", "flag-qm:5001", "--max-in-flight", "33", "--retry-attempts", "3"] : [];
        launch = Layers(["--config", path, .. flags], environment);
        return Bind(launch);
    }

    private static ConnectorLaunch Layers(string[] args, Dictionary<string, string> environment)
    {
        ConnectorLaunch? captured = null;
        var code = ConnectorCommandLine.Run(args, launch =>
        {
            captured = launch;
            return 0;
        }, TextWriter.Null, TextWriter.Null, environment);
        Assert.Equal(0, code);
        return captured!;
    }

    private static ConnectorOptions Bind(ConnectorLaunch launch)
    {
        var builder = new ConfigurationBuilder();
        foreach (var layer in launch.Layers)
        {
            builder.AddInMemoryCollection(layer);
        }

        var options = new ConnectorOptions();
        builder.Build().GetSection(ConnectorOptions.SectionName).Bind(options);
        return options;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

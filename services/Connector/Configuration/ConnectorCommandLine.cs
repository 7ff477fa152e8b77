using System.CommandLine;
using System.Globalization;
using WebhookConnect.ServiceDefaults;

namespace WebhookConnect.Connector.Configuration;

/// <summary>
/// The connector's command line. Each flag names one setting and overrides only it (file &lt; environment &lt; flags);
/// a flag that is not given leaves the lower layers alone, which is why no option carries a parser default: the
/// defaults shown by <c>--help</c> come from <see cref="ConnectorOptions"/>. Tokens have no flag on purpose: a
/// command line is visible to every user of the machine (<c>ps</c>), so they come from a file or the environment.
/// </summary>
public static class ConnectorCommandLine
{
    /// <summary>Parses <paramref name="args"/>, prints help or a usage error (exit code 2), or runs
    /// <paramref name="run"/> with the configuration layers in increasing precedence.</summary>
    /// <param name="environment">The variables to read (the process's by default).</param>
    public static int Run(string[] args, Func<ConnectorLaunch, int> run, TextWriter? output = null, TextWriter? error = null, System.Collections.IDictionary? environment = null)
    {
        var defaults = new ConnectorOptions();
        var subscription = new SubscriptionOptions();
        var target = new TargetOptions();
        var flags = new List<(Option Option, Func<ParseResult, string?> Value, string Key)>();
        var root = new RootCommand(
            "Webhook Connect connector: holds one Connect stream per channel to queue-manager and delivers each webhook to a local HTTP target.\n" +
            "Settings come from a YAML/JSON file < CONNECTOR__* environment variables < these flags; each overrides only what it names.\n" +
            "Flags about a subscription (--channel, --token-file, --token-env, --max-in-flight, --target) apply to the first one (subscriptions[0]).");

        var config = new Option<string>("--config", "-c") { Description = $"YAML or JSON config file (also env {ConnectorConfiguration.ConfigFileVariable}). [default: none]", HelpName = "path" };
        root.Options.Add(config);

        void Flag<T>(string name, string key, string description, string defaultText, Func<T, string>? format = null)
        {
            var option = new Option<T>(name) { Description = $"{description} [default: {defaultText}]" };
            root.Options.Add(option);
            flags.Add((option, parse => parse.GetResult(option) is { Implicit: false }
                ? (format is null ? Convert.ToString(parse.GetValue(option), CultureInfo.InvariantCulture) : format(parse.GetValue(option)!))
                : null, key));
        }

        static string Span(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);
        static string Bool(bool value) => value ? "true" : "false";

        Flag<string>("--queue-manager", "Connector:QueueManager:Address", "queue-manager address: host:port (TLS), https://host:port, or http://host:port with --insecure.", defaults.QueueManager.Address);
        Flag<string>("--protocol", "Connector:QueueManager:Protocol", "how streams reach queue-manager: grpc, websocket, sse, long-poll, or auto (gRPC; WebSocket when HTTP/2 does not get through).", defaults.QueueManager.Protocol);
        Flag<string>("--queue-manager-http", "Connector:QueueManager:HttpAddress", "queue-manager's HTTP/1.1 connector address (websocket, sse, long-poll): host:port, https://host:port, or http://host:port with --insecure.", "the --queue-manager host, port 5003");
        Flag<bool>("--insecure", "Connector:QueueManager:Insecure", "plaintext HTTP/2 to queue-manager, no TLS (local development).", Bool(defaults.QueueManager.Insecure), Bool);
        Flag<string>("--ca-file", "Connector:QueueManager:CaFile", "PEM CA certificate to trust for queue-manager's TLS certificate.", "the system trust store");
        Flag<string>("--client-cert-file", "Connector:QueueManager:ClientCertFile", "PEM client certificate for mutual TLS.", "none");
        Flag<string>("--client-key-file", "Connector:QueueManager:ClientKeyFile", "PEM private key of the client certificate.", "none");
        Flag<string>("--connector-id", "Connector:ConnectorId", "this connector's name as queue-manager shows it.", "the host name");
        Flag<string>("--channel", "Connector:Subscriptions:0:Channel", "channel of the first subscription.", "none");
        Flag<string>("--token-file", "Connector:Subscriptions:0:TokenFile", "file holding the first subscription's channel token (re-read before every connection attempt).", "none");
        Flag<string>("--token-env", "Connector:Subscriptions:0:TokenEnv", "environment variable holding the first subscription's channel token.", "none");
        Flag<int>("--max-in-flight", "Connector:Subscriptions:0:MaxInFlight", "most deliveries in flight on the first subscription's stream (0: the channel's value).", subscription.MaxInFlight.ToString(CultureInfo.InvariantCulture));
        Flag<string>("--target", "Connector:Subscriptions:0:DefaultTarget:Url", $"default target URL of the first subscription (method {target.Method}, timeout {Span(target.Timeout)} unless set otherwise).", "none");
        Flag<int>("--retry-attempts", "Connector:Retry:Attempts", "local retries of a failed target call before nack(retry).", defaults.Retry.Attempts.ToString(CultureInfo.InvariantCulture));
        Flag<TimeSpan>("--retry-delay", "Connector:Retry:Delay", "delay before the first local retry, doubled for each next one.", Span(defaults.Retry.Delay), Span);
        Flag<TimeSpan>("--drain-grace-period", "Connector:DrainGracePeriod", "on SIGTERM, time for in-flight deliveries to finish before they are nacked for redelivery.", Span(defaults.DrainGracePeriod), Span);
        Flag<string>("--drop-headers", "Connector:DropHeaders", "sender headers never passed on to targets, comma-separated names or prefixes ending in '*' ('none': none); replaces the default list.", Delivery.DroppedHeaders.Default);
        Flag<string>("--also-drop-headers", "Connector:AlsoDropHeaders", "more headers to drop, added to --drop-headers.", "none");
        Flag<string>("--management-host", "Management:Host", "address of the management listener (/healthz, /readyz, /metrics).", new ManagementOptions().Host);
        Flag<int>("--management-port", "Management:Port", "port of the management listener.", "9093");

        var check = new Option<bool>("--check") { Description = "validate the configuration, print the effective settings as JSON (tokens masked) and exit: 0 when valid, 2 when not." };
        root.Options.Add(check);

        var set = new Option<string[]>("--set")
        {
            Description = "any other setting by its path, e.g. --set subscriptions:1:max_in_flight=20 or --set retry:attempts=0 (repeatable). [default: none]",
            HelpName = "path=value",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        root.Options.Add(set);

        root.SetAction(parse =>
        {
            var variables = environment ?? Environment.GetEnvironmentVariables();
            var configPath = parse.GetValue(config) ?? variables[ConnectorConfiguration.ConfigFileVariable] as string;
            Dictionary<string, string?> file;
            try
            {
                file = string.IsNullOrEmpty(configPath)
                    ? new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
                    : ConnectorConfiguration.FromFile(configPath);
            }
            catch (ConfigFileException ex)
            {
                (error ?? Console.Error).WriteLine(ex.Message);
                return ServiceEntryPoint.ConfigurationErrorExitCode;
            }

            var fromEnvironment = ConnectorConfiguration.FromEnvironment(variables);
            var command = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (var (_, value, key) in flags)
            {
                if (value(parse) is { } text)
                {
                    command[key] = text;
                }
            }

            foreach (var assignment in parse.GetValue(set) ?? [])
            {
                var equals = assignment.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    (error ?? Console.Error).WriteLine($"Invalid configuration: --set = '{assignment}': must be path=value, e.g. retry:attempts=0.");
                    return ServiceEntryPoint.ConfigurationErrorExitCode;
                }

                var key = ConnectorConfiguration.Normalize(assignment[..equals].Replace("__", ":", StringComparison.Ordinal));
                if (IsSubscriptionToken(key))
                {
                    // The value is not echoed: it is the secret.
                    (error ?? Console.Error).WriteLine(
                        $"Invalid configuration: --set = '{assignment[..equals]}=***': a token on the command line is visible to every user of this machine (ps, /proc/<pid>/cmdline); use --token-file or --token-env (token_file / token_env in the config file).");
                    return ServiceEntryPoint.ConfigurationErrorExitCode;
                }

                command[key] = assignment[(equals + 1)..];
            }

            return run(new ConnectorLaunch([file, fromEnvironment, command], parse.GetValue(check)));
        });

        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var parseError in result.Errors)
            {
                (error ?? Console.Error).WriteLine($"Invalid command line: {parseError.Message}");
            }

            (error ?? Console.Error).WriteLine("Run with --help for the options.");
            return ServiceEntryPoint.ConfigurationErrorExitCode;
        }

        return result.Invoke(new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
            // The host handles SIGTERM itself (graceful drain); the parser must not.
            ProcessTerminationTimeout = null,
        });
    }

    /// <summary>Whether <paramref name="key"/> (normalised) is a subscription's token itself, which must not come from
    /// the command line (SPEC §9: a token comes from the environment or a file, never the command line).</summary>
    private static bool IsSubscriptionToken(string key)
    {
        var segments = key.Split(':');
        return segments.Length == 4
            && segments[0].Equals(ConnectorOptions.SectionName, StringComparison.OrdinalIgnoreCase)
            && segments[1].Equals("Subscriptions", StringComparison.OrdinalIgnoreCase)
            && segments[3].Equals("Token", StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>What the command line decided: the configuration layers in increasing precedence (file, environment,
/// flags) and whether only to check them.</summary>
public sealed record ConnectorLaunch(IReadOnlyList<IReadOnlyDictionary<string, string?>> Layers, bool CheckOnly);

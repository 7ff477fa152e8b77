using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace WebhookConnect.DevStack;

/// <summary>
/// The dev stack's settings: ports and the admin token from environment variables (SPEC §14's defaults, so the
/// stack runs without flags), the data directory and <c>--fresh</c> from flags.
/// </summary>
public sealed record DevStackOptions
{
    /// <summary>Every port setting: environment variable, default, what listens there.</summary>
    private static readonly (string Variable, int Default, string What)[] PortSettings =
    [
        ("REDIS_PORT", 6390, "the private redis-server (not 6379, so a system Redis does not collide)"),
        ("QUEUE_MANAGER_PORT", 5001, "queue-manager public gRPC (Connect, for connectors)"),
        ("QUEUE_MANAGER_INTERNAL_PORT", 5004, "queue-manager internal gRPC (Publish, internal admin; loopback, no token in the dev stack)"),
        ("INGRESS_PORT", 8080, "ingress: POST /webhook/{endpoint}"),
        ("ADMIN_GRPC_PORT", 5002, "admin gRPC (grpcurl)"),
        ("ADMIN_HTTP_PORT", 8082, "admin HTTP/JSON twin (curl)"),
        ("ECHO_PORT", 8099, "the echo target the demo connector delivers to"),
        ("INGRESS_MANAGEMENT_PORT", 9090, "ingress /healthz /readyz /metrics"),
        ("QUEUE_MANAGER_MANAGEMENT_PORT", 9091, "queue-manager /healthz /readyz /metrics"),
        ("ADMIN_MANAGEMENT_PORT", 9092, "admin /healthz /readyz /metrics"),
        ("CONNECTOR_MANAGEMENT_PORT", 9093, "connector /healthz /readyz /metrics"),
    ];

    public required string AdminToken { get; init; }

    /// <summary>True when the admin token was generated for this run (and is printed).</summary>
    public bool AdminTokenGenerated { get; init; }

    public required string DataDirectory { get; init; }

    public bool Fresh { get; init; }

    public required IReadOnlyDictionary<string, int> Ports { get; init; }

    public int Port(string variable) => Ports[variable];

    public static string Help
    {
        get
        {
            var help = new StringBuilder();
            help.AppendLine("Usage: scripts/run.sh [--data DIR] [--fresh]");
            help.AppendLine();
            help.AppendLine("Starts the whole relay on this machine: a private redis-server, queue-manager, ingress, admin, a demo");
            help.AppendLine("channel 'demo' with endpoint 'demo', a connector and an echo target that prints each delivery.");
            help.AppendLine("Logs of every process appear here with a prefix; Ctrl-C stops everything.");
            help.AppendLine();
            help.AppendLine("Options:");
            help.AppendLine("  --data DIR   where Redis keeps its data and the services their files (default: .devstack in the");
            help.AppendLine("               current directory); messages survive a restart of the stack");
            help.AppendLine("  --fresh      delete the data directory first (an empty Redis)");
            help.AppendLine("  --help       this text");
            help.AppendLine();
            help.AppendLine("Environment:");
            help.AppendLine("  ADMIN_TOKEN                      admin token (default: generated for this run and printed)");
            foreach (var (variable, value, what) in PortSettings)
            {
                help.AppendLine(CultureInfo.InvariantCulture, $"  {variable,-32} {value,-6} {what}");
            }

            return help.ToString();
        }
    }

    public static DevStackOptions Read(string[] args, Func<string, string?> environment)
    {
        var data = Path.Combine(Directory.GetCurrentDirectory(), ".devstack");
        var fresh = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--fresh":
                    fresh = true;
                    break;
                case "--data" when i + 1 < args.Length:
                    data = Path.GetFullPath(args[++i]);
                    break;
                default:
                    throw new DevStackOptionsException($"unknown argument '{args[i]}'");
            }
        }

        var ports = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (variable, value, _) in PortSettings)
        {
            var text = environment(variable);
            if (string.IsNullOrEmpty(text))
            {
                ports[variable] = value;
            }
            else if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536)
            {
                ports[variable] = port;
            }
            else
            {
                throw new DevStackOptionsException($"{variable} = '{text}' is not a port (1-65535)");
            }
        }

        var duplicate = ports.GroupBy(p => p.Value).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new DevStackOptionsException($"{string.Join(" and ", duplicate.Select(p => p.Key))} are both {duplicate.Key}");
        }

        var token = environment("ADMIN_TOKEN");
        // The admin service refuses tokens shorter than 32 characters (Admin:Tokens); say so before starting it.
        if (token is { Length: > 0 and < 32 })
        {
            throw new DevStackOptionsException("ADMIN_TOKEN is shorter than 32 characters");
        }

        return new DevStackOptions
        {
            AdminToken = string.IsNullOrEmpty(token) ? "dev_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) : token,
            AdminTokenGenerated = string.IsNullOrEmpty(token),
            DataDirectory = data,
            Fresh = fresh,
            Ports = ports,
        };
    }
}

public sealed class DevStackOptionsException(string message) : Exception(message);

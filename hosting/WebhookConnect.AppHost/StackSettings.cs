using System.Globalization;
using System.Security.Cryptography;

namespace WebhookConnect.AppHost;

/// <summary>
/// The local stack's settings: ports and the admin token from environment variables (SPEC §14's defaults, so the
/// stack runs without flags), the data directory and <c>--fresh</c> from flags. <c>scripts/run.sh --help</c> describes
/// them without building anything; a test keeps that text and <see cref="PortSettings"/> in step.
/// </summary>
public sealed record StackSettings
{
    /// <summary>The shortest admin token admin accepts (Admin:Tokens); checked here so the stack fails before starting.</summary>
    public const int MinimumAdminTokenLength = 32;

    /// <summary>Every port setting: environment variable, default, what listens there.</summary>
    public static readonly IReadOnlyList<(string Variable, int Default, string What)> PortSettings =
    [
        ("REDIS_PORT", 6390, "the private redis-server (not 6379, so a system Redis does not collide)"),
        ("QUEUE_MANAGER_PORT", 5001, "queue-manager public gRPC (Connect, for connectors)"),
        ("QUEUE_MANAGER_HTTP_PORT", 5003, "queue-manager HTTP/1.1 connector protocols (WebSocket, SSE, long-poll)"),
        ("QUEUE_MANAGER_INTERNAL_PORT", 5004, "queue-manager internal gRPC (Publish, internal admin; loopback, no token here)"),
        ("INGRESS_PORT", 8080, "ingress: POST /webhook/{endpoint}"),
        ("ADMIN_GRPC_PORT", 5002, "admin gRPC (grpcurl)"),
        ("ADMIN_HTTP_PORT", 8082, "admin HTTP/JSON twin (curl) and operator console"),
        ("ECHO_PORT", 8099, "the echo target the demo connector delivers to"),
        ("INGRESS_MANAGEMENT_PORT", 9090, "ingress /healthz /readyz /metrics"),
        ("QUEUE_MANAGER_MANAGEMENT_PORT", 9091, "queue-manager /healthz /readyz /metrics"),
        ("ADMIN_MANAGEMENT_PORT", 9092, "admin /healthz /readyz /metrics"),
        ("CONNECTOR_MANAGEMENT_PORT", 9093, "connector /healthz /readyz /metrics"),
        ("DASHBOARD_PORT", 18888, "the Aspire dashboard (resources, console and structured logs, traces, metrics)"),
        ("DASHBOARD_OTLP_PORT", 18889, "the dashboard's OTLP/gRPC receiver the services export to"),
        ("DASHBOARD_RESOURCE_SERVICE_PORT", 18890, "the AppHost's resource service the dashboard reads"),
    ];

    public required string AdminToken { get; init; }

    /// <summary>True when the admin token was generated for this run (and is printed).</summary>
    public bool AdminTokenGenerated { get; init; }

    /// <summary>The dashboard's login token (printed as a login URL).</summary>
    public required string DashboardToken { get; init; }

    public required string DataDirectory { get; init; }

    public bool Fresh { get; init; }

    public required IReadOnlyDictionary<string, int> Ports { get; init; }

    public int Port(string variable) => Ports[variable];

    public static StackSettings Read(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        var data = Path.Combine(Directory.GetCurrentDirectory(), ".devstack");
        var fresh = false;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--fresh":
                    fresh = true;
                    break;
                case "--data" when i + 1 < args.Count:
                    data = Path.GetFullPath(args[++i]);
                    break;
                case "--data":
                    throw new StackSettingsException("--data needs a directory");
                default:
                    throw new StackSettingsException($"unknown argument '{args[i]}'");
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
                throw new StackSettingsException($"{variable} = '{text}' is not a port (1-65535)");
            }
        }

        var duplicate = ports.GroupBy(p => p.Value).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new StackSettingsException($"{string.Join(" and ", duplicate.Select(p => p.Key))} are both {duplicate.Key}");
        }

        var token = environment("ADMIN_TOKEN");
        if (token is { Length: > 0 and < MinimumAdminTokenLength })
        {
            throw new StackSettingsException(
                $"ADMIN_TOKEN is {token.Length} characters long; admin accepts tokens of at least {MinimumAdminTokenLength} " +
                "(unset it to get a generated one)");
        }

        return new StackSettings
        {
            AdminToken = string.IsNullOrEmpty(token) ? "dev_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) : token,
            AdminTokenGenerated = string.IsNullOrEmpty(token),
            DashboardToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            DataDirectory = data,
            Fresh = fresh,
            Ports = ports,
        };
    }

    public string Loopback(string variable) => $"http://127.0.0.1:{Text(Port(variable))}";

    public static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}

public sealed class StackSettingsException(string message) : Exception(message);

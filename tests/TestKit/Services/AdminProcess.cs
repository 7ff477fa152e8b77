using System.Globalization;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace WebhookConnect.TestKit.Services;

/// <summary>
/// The admin binary as a child process on free loopback ports, reaching a queue-manager's internal port, with one
/// admin token and a gRPC channel to its AdminService. For programs that only need a running admin (the benchmarks);
/// the admin and end-to-end tests start theirs with the settings they test (AdminStack, ScenarioStack).
/// </summary>
public sealed class AdminProcess : IAsyncDisposable
{
    /// <summary>The admin token this process accepts (at least the 32 characters admin requires).</summary>
    public const string Token = "admin-token-for-the-test-kit-0123456789";

    private AdminProcess(ChildProcess process, GrpcChannel channel, int httpPort)
    {
        Process = process;
        Channel = channel;
        Http = new Uri($"http://127.0.0.1:{httpPort.ToString(CultureInfo.InvariantCulture)}");
    }

    public ChildProcess Process { get; }

    /// <summary>The gRPC port: AdminService, health.</summary>
    public GrpcChannel Channel { get; }

    /// <summary>The JSON twin's base address.</summary>
    public Uri Http { get; }

    /// <summary>The bearer header every AdminService call needs.</summary>
    public static Metadata Bearer => new() { { "authorization", "Bearer " + Token } };

    public static string Assembly => ServiceBinaries.Assembly("Admin", "WebhookConnect.Admin");

    /// <summary>Starts admin against a queue-manager's internal address (one that runs without an internal token, as
    /// <see cref="QueueManagerProcess"/> does by default) and waits until its gRPC health is SERVING.</summary>
    public static async Task<AdminProcess> StartAsync(string queueManagerInternalAddress, IReadOnlyDictionary<string, string>? extra = null)
    {
        var grpcPort = FreePort.Next();
        var httpPort = FreePort.Next();
        var settings = new Dictionary<string, string>
        {
            ["Admin:Host"] = "127.0.0.1",
            ["Admin:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["Admin:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["Admin:Tokens"] = Token,
            ["Admin:QueueManager"] = queueManagerInternalAddress,
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var process = ServiceBinaries.Start("admin-" + grpcPort.ToString(CultureInfo.InvariantCulture), Assembly, settings);
        var admin = new AdminProcess(process, GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort.ToString(CultureInfo.InvariantCulture)}"), httpPort);
        try
        {
            await process.UntilAsync(
                async () =>
                {
                    try
                    {
                        return (await new Health.HealthClient(admin.Channel).CheckAsync(new HealthCheckRequest())).Status == ServingStatus.Serving;
                    }
                    catch (RpcException)
                    {
                        return false;
                    }
                },
                QueueManagerProcess.Patience,
                "the admin service's gRPC health to answer SERVING");
        }
        catch
        {
            await admin.DisposeAsync();
            throw;
        }

        return admin;
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Process.DisposeAsync();
    }
}

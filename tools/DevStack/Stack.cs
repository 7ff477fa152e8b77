using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace WebhookConnect.DevStack;

/// <summary>
/// Starts the processes in dependency order, each ready (its <c>/readyz</c>) before the next, then waits for Ctrl-C,
/// SIGTERM or a process that dies, and stops everything in reverse order. Nothing is left running: every child is
/// stopped with SIGTERM and, after a grace period, killed.
/// </summary>
public sealed class Stack(DevStackOptions options, Output output) : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);
    private readonly List<StackProcess> _processes = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private WebApplication? _echo;

    public async Task<int> RunAsync()
    {
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        try
        {
            await StartAsync(_stop.Token);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            output.Stack("stopping before start-up completed");
            return 130;
        }
        catch (StackException ex)
        {
            output.Stack("ERROR: " + ex.Message);
            return 1;
        }

        output.Block(Screen());
        var died = Task.WhenAny(_processes.Select(p => p.Exited));
        var stopped = Task.Delay(Timeout.Infinite, _stop.Token);
        if (await Task.WhenAny(died, stopped) == died)
        {
            var dead = _processes.First(p => p.HasExited);
            output.Stack($"ERROR: {dead.Name} exited with code {dead.ExitCode}; stopping the stack");
            return 1;
        }

        output.Stack("Ctrl-C: stopping everything");
        return 0;
    }

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true; // we stop the children ourselves, then exit
        _stop.Cancel();
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Fresh && Directory.Exists(options.DataDirectory))
        {
            Directory.Delete(options.DataDirectory, recursive: true);
        }

        Directory.CreateDirectory(Path.Combine(options.DataDirectory, "redis"));
        foreach (var (variable, port) in options.Ports)
        {
            RequireFree(variable, port);
        }

        var redisPort = options.Port("REDIS_PORT");
        var redis = Start("redis", FindOnPath("redis-server") ?? throw new StackException(
            "redis-server is not installed. Install it with: sudo apt-get install -y redis-server (scripts/run.sh does this when it may)"),
            ["--port", Text(redisPort), "--bind", "127.0.0.1", "--dir", Path.Combine(options.DataDirectory, "redis"),
             "--appendonly", "yes", "--save", "", "--protected-mode", "yes"]);
        await WaitAsync(redis, () => PingRedisAsync(redisPort), $"redis-server on 127.0.0.1:{redisPort}", cancellationToken);

        var queueManager = StartService("queue-manager", "QueueManager", "QUEUE_MANAGER_MANAGEMENT_PORT", new()
        {
            ["QueueManager:Redis"] = $"127.0.0.1:{Text(redisPort)}",
            ["QueueManager:Host"] = "127.0.0.1",
            ["QueueManager:Port"] = Text(options.Port("QUEUE_MANAGER_PORT")),
            // The development setting: the internal APIs without a token, allowed only on a loopback listener.
            ["QueueManager:InternalHost"] = "127.0.0.1",
            ["QueueManager:InternalPort"] = Text(options.Port("QUEUE_MANAGER_INTERNAL_PORT")),
            ["QueueManager:AllowInternalWithoutToken"] = "true",
        });
        await WaitReadyAsync(queueManager, "QUEUE_MANAGER_MANAGEMENT_PORT", cancellationToken);

        var admin = StartService("admin", "Admin", "ADMIN_MANAGEMENT_PORT", new()
        {
            ["Admin:Tokens"] = options.AdminToken,
            ["Admin:Host"] = "127.0.0.1",
            ["Admin:GrpcPort"] = Text(options.Port("ADMIN_GRPC_PORT")),
            ["Admin:HttpPort"] = Text(options.Port("ADMIN_HTTP_PORT")),
            ["Admin:QueueManager"] = $"http://127.0.0.1:{Text(options.Port("QUEUE_MANAGER_INTERNAL_PORT"))}",
            ["Admin:ChannelsFile"] = WriteChannelsFile(),
        });
        await WaitReadyAsync(admin, "ADMIN_MANAGEMENT_PORT", cancellationToken);

        var ingress = StartService("ingress", "Ingress", "INGRESS_MANAGEMENT_PORT", new()
        {
            ["Ingress:Host"] = "127.0.0.1",
            ["Ingress:Port"] = Text(options.Port("INGRESS_PORT")),
            ["Ingress:QueueManager"] = $"http://127.0.0.1:{Text(options.Port("QUEUE_MANAGER_INTERNAL_PORT"))}",
            ["Ingress:SpoolPath"] = Path.Combine(options.DataDirectory, "spool"),
        });
        await WaitReadyAsync(ingress, "INGRESS_MANAGEMENT_PORT", cancellationToken);

        _echo = await EchoTarget.StartAsync(options.Port("ECHO_PORT"), output);

        // The connector takes flags, as a developer would run it by hand.
        var connector = Start("connector", "dotnet",
        [
            ServiceAssembly("Connector"),
            "--queue-manager", $"http://127.0.0.1:{Text(options.Port("QUEUE_MANAGER_PORT"))}", "--insecure",
            "--connector-id", "devstack",
            "--channel", "demo", "--token-file", DemoTokenFile,
            "--target", $"http://127.0.0.1:{Text(options.Port("ECHO_PORT"))}/webhooks",
            "--management-host", "127.0.0.1", "--management-port", Text(options.Port("CONNECTOR_MANAGEMENT_PORT")),
        ]);
        await WaitReadyAsync(connector, "CONNECTOR_MANAGEMENT_PORT", cancellationToken);
    }

    /// <summary>The demo channel, declared the way an operator would (admin's channels file), with a token kept in the data directory.</summary>
    private string WriteChannelsFile()
    {
        var tokenFile = DemoTokenFile;
        if (!File.Exists(tokenFile))
        {
            // A connector token: readable by its owner only.
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var token = new FileStream(tokenFile, options);
            token.Write(Encoding.ASCII.GetBytes("wct_demo_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))));
        }

        var file = Path.Combine(options.DataDirectory, "channels.yaml");
        File.WriteAllText(file, $"""
            # Written by the dev stack at every start. The demo channel: webhooks to /webhook/demo go to the echo target.
            channels:
              - name: demo
                token_file: {tokenFile}
                settings:
                  max_delivery_attempts: 5
                  retry_backoff: {"{"} initial: 1s, max: 30s {"}"}
                endpoints:
                  - id: demo
                    # Open on purpose, for curl on this machine. A real endpoint chooses its sender's preset
                    # (github, stripe, standard_webhooks, …); docs/channels.md lists them.
                    verification: {"{"} none: {"{}"} {"}"}

            """);
        return file;
    }

    private string DemoTokenFile => Path.Combine(options.DataDirectory, "demo-token");

    private string Screen()
    {
        var admin = options.AdminToken;
        var screen = new StringBuilder();
        screen.AppendLine();
        screen.AppendLine("  Webhook Connect is running. Try:");
        screen.AppendLine();
        screen.AppendLine("  # post a webhook (the echo target prints it)");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  curl -s -X POST -H 'Content-Type: application/json' -d '{{\"hello\":\"world\"}}' http://127.0.0.1:{options.Port("INGRESS_PORT")}/webhook/demo");
        screen.AppendLine();
        screen.AppendLine("  # the admin API with grpcurl and curl");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  export ADMIN_TOKEN={admin}{(options.AdminTokenGenerated ? "    (generated; set ADMIN_TOKEN to choose one)" : "")}");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  grpcurl -plaintext 127.0.0.1:{options.Port("ADMIN_GRPC_PORT")} list");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  grpcurl -plaintext -H \"authorization: Bearer $ADMIN_TOKEN\" -d '{{\"channel\":\"demo\"}}' 127.0.0.1:{options.Port("ADMIN_GRPC_PORT")} webhookconnect.admin.v1.AdminService/GetChannelStats");
        screen.AppendLine(CultureInfo.InvariantCulture, $"  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://127.0.0.1:{options.Port("ADMIN_HTTP_PORT")}/admin/webhook-connect/channels/demo/stats");
        screen.AppendLine();
        screen.AppendLine(CultureInfo.InvariantCulture, $"  data: {options.DataDirectory}   demo channel token: {DemoTokenFile}");
        screen.AppendLine("  Ctrl-C stops everything.");
        screen.AppendLine();
        return screen.ToString();
    }

    private StackProcess StartService(string name, string folder, string managementPort, Dictionary<string, string> settings)
    {
        settings["Management:Host"] = "127.0.0.1";
        settings["Management:Port"] = Text(options.Port(managementPort));
        var assembly = ServiceAssembly(folder);
        return Start(name, "dotnet", settings.Select(s => $"--{s.Key}={s.Value}").Prepend(assembly));
    }

    private StackProcess Start(string name, string fileName, IEnumerable<string> arguments)
    {
        var process = StackProcess.Start(name, fileName, arguments, output, options.DataDirectory);
        _processes.Add(process);
        return process;
    }

    private Task WaitReadyAsync(StackProcess process, string managementPort, CancellationToken cancellationToken)
    {
        var url = new Uri($"http://127.0.0.1:{Text(options.Port(managementPort))}/readyz");
        return WaitAsync(process, async () =>
        {
            using var response = await _http.GetAsync(url, cancellationToken);
            return response.StatusCode == HttpStatusCode.OK;
        }, $"{process.Name} to be ready ({url})", cancellationToken);
    }

    private static async Task WaitAsync(StackProcess process, Func<Task<bool>> ready, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                throw new StackException($"{process.Name} exited with code {process.ExitCode} while starting (its output is above)");
            }

            try
            {
                if (await ready())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or SocketException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // not listening yet
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new StackException($"timed out after {ReadyTimeout.TotalSeconds:0} s waiting for {what}");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    private static async Task<bool> PingRedisAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync("PING\r\n"u8.ToArray());
        var buffer = new byte[64];
        var read = await stream.ReadAsync(buffer);
        return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
    }

    private static void RequireFree(string variable, int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
        catch (SocketException)
        {
            throw new StackException($"port {port} ({variable}) is in use; stop what listens there or set {variable} to another port");
        }
    }

    /// <summary>A service's main assembly, built next to the dev stack in the same configuration.</summary>
    private static string ServiceAssembly(string folder)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var root = RepoRoot();
        var path = Path.Combine(root, "services", folder, "bin", configuration, "net10.0", $"WebhookConnect.{folder}.dll");
        return File.Exists(path) ? path : throw new StackException($"{path} is missing; build with: dotnet build -c {configuration} tools/DevStack");
    }

    private static string RepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Services.sln")))
            {
                return directory.FullName;
            }
        }

        throw new StackException($"cannot find the repository (Services.sln) above {AppContext.BaseDirectory}");
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        if (_echo is not null)
        {
            await _echo.StopAsync();
            await _echo.DisposeAsync();
        }

        // Reverse order: connectors and ingress first, Redis last, so nothing loses its dependency while draining.
        for (var i = _processes.Count - 1; i >= 0; i--)
        {
            await _processes[i].DisposeAsync();
        }

        _http.Dispose();
        _stop.Dispose();
        output.Stack("all processes stopped");
    }
}

public sealed class StackException(string message) : Exception(message);

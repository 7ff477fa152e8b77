using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Grpc.Health.V1;
using Grpc.Net.Client;
using WebhookConnect.TestKit;

namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>
/// A rendered release laid out on this machine: each pod's volumes under one temporary directory
/// (<see cref="PodVolumes"/>), every container port on a loopback port (<see cref="LoopbackNetwork"/>), each container of
/// our four images prepared as its process (<see cref="ServiceContainer"/>). Containers of other images (Redis, a user's
/// processor) are served by the test itself on the loopback ports it passes as <c>provided</c>.
/// <see cref="Problems"/> holds everything wrong with the rendered configuration that shows before a process runs;
/// <see cref="StartAsync"/> starts the processes pod by pod and waits for each container's probes.
/// </summary>
public sealed class RenderedCluster : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private readonly List<ChildProcess> _processes = [];
    private readonly List<(RenderedPod Pod, Container Container)> _redis = [];
    private readonly List<RedisServer> _redisServers = [];
    private readonly Dictionary<string, PodVolumes> _volumes = [];

    private RenderedCluster(RenderedRelease release, string root, LoopbackNetwork network)
    {
        Release = release;
        Root = root;
        Network = network;
    }

    public RenderedRelease Release { get; }

    /// <summary>The temporary directory that holds every pod's volumes (<c>&lt;Root&gt;/&lt;pod&gt;/&lt;volume&gt;</c>).</summary>
    public string Root { get; }

    public LoopbackNetwork Network { get; }

    public List<ServiceContainer> Containers { get; } = [];

    public List<string> Problems { get; } = [];

    /// <summary>Everything the processes printed, for failure messages.</summary>
    public string Output => string.Join("\n", _processes.Select(p => p.Output));

    /// <summary>Lays out <paramref name="release"/>; <paramref name="provided"/> maps (pod, containerPort) to the loopback
    /// port where the test serves a container that is not one of our images.</summary>
    public static RenderedCluster Prepare(RenderedRelease release, IReadOnlyDictionary<(string Pod, int ContainerPort), int> provided)
    {
        var root = Directory.CreateTempSubdirectory("k8s-rendered-").FullName;
        var cluster = new RenderedCluster(release, root, new LoopbackNetwork(release.Pods, release.Services, provided));
        try
        {
            foreach (var pod in release.Pods)
            {
                var volumes = PodVolumes.Materialize(release, pod, root);
                cluster._volumes[pod.Name] = volumes;
                foreach (var container in pod.Running)
                {
                    if (ServiceImage.Of(container) is { } service)
                    {
                        var prepared = ServiceContainer.Prepare(release, pod, container, service, volumes);
                        cluster.Containers.Add(prepared);
                        cluster.Problems.AddRange(prepared.Problems);
                    }
                    else if (IsRedis(container))
                    {
                        cluster._redis.Add((pod, container));
                    }
                    else if (container.Ports.Any(p => !provided.ContainsKey((pod.Name, p.Number))) || container.Ports.Count == 0)
                    {
                        cluster.Problems.Add($"{pod.Name}/{container.Name} runs {container.Image}, which is none of our images and which the test does not provide");
                    }
                }

                foreach (var init in pod.Spec.InitContainers.Where(c => c.RestartPolicy != "Always"))
                {
                    cluster.Problems.Add($"{pod.Name}/{init.Name}: an init container that runs to completion ({init.Image}) is not emulated by this test");
                }

                // Config files name addresses and paths too (a connector config names its token file and queue-manager).
                volumes.RewriteFiles((text, file) => cluster.Network.Rewrite(volumes.MapPaths(text, null), pod, $"{pod.Name} file from {file.Source}"));
            }

            // Addresses in env and args are resolved now, so one that no Service serves is a problem before anything runs.
            foreach (var container in cluster.Containers)
            {
                container.ResolveAddresses(cluster.Network);
            }

            cluster.Problems.AddRange(cluster.Network.Unresolved.Distinct().Select(a => $"{a}: no rendered Service serves this address"));
        }
        catch
        {
            Directory.Delete(root, recursive: true);
            throw;
        }

        return cluster;
    }

    /// <summary>The prepared container of <paramref name="service"/> ("ingress", "queue-manager", "admin", "connector").</summary>
    public ServiceContainer Container(string service) =>
        Containers.SingleOrDefault(c => c.Service.Name == service)
        ?? throw new InvalidOperationException($"the release runs {Containers.Count(c => c.Service.Name == service)} containers of {service}; the test expects one");

    /// <summary>
    /// Starts each rendered Redis container with this machine's <c>redis-server</c> (TestKit's <see cref="RedisServer"/>):
    /// its command and args as rendered, <c>$(VAR)</c> expanded (the password from its Secret), except <c>--port</c>
    /// (the loopback port standing for it), <c>--bind</c> (127.0.0.1, the network rule) and <c>--dir</c> (a temporary
    /// directory of RedisServer's own); then waits for its probes.
    /// </summary>
    public async Task StartRedisAsync()
    {
        foreach (var (pod, container) in _redis)
        {
            var environment = new ContainerEnvironment(Release, pod, container, []);
            var words = (container.Command ?? []).Concat(container.Args ?? []).Select(environment.Expand).ToList();
            if (words.FirstOrDefault() is "docker-entrypoint.sh")
            {
                words.RemoveAt(0);
            }

            if (words.FirstOrDefault() != "redis-server")
            {
                throw new InvalidOperationException($"{pod.Name}/{container.Name} runs '{string.Join(' ', words)}'; this test runs redis-server with the rendered flags");
            }

            var port = 6379;
            var extra = new List<string>();
            for (var i = 1; i < words.Count; i++)
            {
                var flag = words[i];
                var values = new List<string>();
                while (i + 1 < words.Count && !words[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    values.Add(words[++i]);
                }

                switch (flag)
                {
                    case "--port":
                        port = int.Parse(values.Single(), CultureInfo.InvariantCulture);
                        break;
                    case "--bind" or "--dir" or "--daemonize" or "--logfile":
                        break;
                    default:
                        extra.Add(flag);
                        extra.AddRange(values);
                        break;
                }
            }

            if (!container.Ports.Any(p => p.Number == port))
            {
                Problems.Add($"{pod.Name}/{container.Name}: redis-server listens on {port}, but the container declares no such containerPort");
            }

            _redisServers.Add(await RedisServer.StartAsync(appendOnly: false, Network.PortOf(pod.Name, port), extra));
            foreach (var probe in new[] { container.StartupProbe, container.ReadinessProbe, container.LivenessProbe }.OfType<Probe>())
            {
                await Eventually.UntilAsync(() => ProbeAsync(pod, probe), Patience, $"{pod.Name}/{container.Name}'s probe ({Describe(probe)}) to pass");
            }
        }
    }

    /// <summary>Starts the containers of <paramref name="services"/> in this order, each waited for (startup, readiness
    /// and liveness probes as rendered) before the next starts, as a dependent would wait for its dependency.</summary>
    public async Task StartAsync(params string[] services)
    {
        foreach (var service in services)
        {
            var container = Container(service);
            var process = container.Start(Network);
            _processes.Add(process);
            foreach (var (kind, probe) in new[] { ("startupProbe", container.Container.StartupProbe), ("readinessProbe", container.Container.ReadinessProbe), ("livenessProbe", container.Container.LivenessProbe) })
            {
                if (probe is not null)
                {
                    await process.UntilAsync(() => ProbeAsync(container.Pod, probe), Patience, $"{container.Name}'s {kind} ({Describe(probe)}) to pass");
                }
            }
        }
    }

    /// <summary>Whether every Service port, and every container port of our containers, answers a TCP connection.</summary>
    public async Task<List<string>> SilentPortsAsync()
    {
        var silent = new List<string>();
        foreach (var endpoint in Network.ServicePorts)
        {
            if (!await ConnectsAsync(endpoint.Loopback))
            {
                silent.Add($"Service {endpoint.Service} port {endpoint.Port} (→ {endpoint.Pod} containerPort {endpoint.ContainerPort}, here 127.0.0.1:{endpoint.Loopback}) does not answer");
            }
        }

        foreach (var container in Containers)
        {
            foreach (var port in container.Container.Ports)
            {
                var loopback = Network.PortOf(container.Pod.Name, port.Number);
                if (!await ConnectsAsync(loopback))
                {
                    silent.Add($"{container.Name} containerPort {port.Number} ({port.Name}, here 127.0.0.1:{loopback}) does not answer");
                }
            }
        }

        return silent;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            await process.DisposeAsync();
        }

        foreach (var redis in _redisServers)
        {
            await redis.DisposeAsync();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static bool IsRedis(Container container)
    {
        var repository = container.Image.Split('@')[0];
        var name = repository[(repository.LastIndexOf('/') + 1)..].Split(':')[0];
        return name == "redis";
    }

    private static string Describe(Probe probe) =>
        probe.HttpGet is { } get ? $"GET {get.Path} on port {get.Port}" : probe.TcpSocket is { } tcp ? $"TCP port {tcp.Port}" : probe.Grpc is { } grpc ? $"gRPC health on port {grpc.Port}" : "exec";

    private async Task<bool> ProbeAsync(RenderedPod pod, Probe probe)
    {
        if (probe.HttpGet is { } get)
        {
            var port = Loopback(pod, get.Port);
            try
            {
                using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}{get.Path}"));
                return (int)response.StatusCode is >= 200 and < 400;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        }

        if (probe.TcpSocket is { } tcp)
        {
            return await ConnectsAsync(Loopback(pod, tcp.Port));
        }

        if (probe.Grpc is { } grpc)
        {
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{Loopback(pod, grpc.Port.ToString(CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture)}");
            try
            {
                var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest { Service = grpc.Service ?? "" }, deadline: DateTime.UtcNow.AddSeconds(5));
                return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving;
            }
            catch (Grpc.Core.RpcException)
            {
                return false;
            }
        }

        throw new InvalidOperationException($"{pod.Name}: an exec probe cannot be emulated; the charts probe over HTTP on the management port");
    }

    private int Loopback(RenderedPod pod, string port) =>
        LoopbackNetwork.ResolveTargetPort(pod, port) is { } containerPort
            ? Network.PortOf(pod.Name, containerPort)
            : throw new InvalidOperationException($"{pod.Name}: a probe names port '{port}', which no container of the pod declares");

    private static async Task<bool> ConnectsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}

using System.Globalization;
using System.Text.RegularExpressions;
using WebhookConnect.TestKit;

namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>
/// The cluster network on one machine. Every container port of every pod gets a free loopback port; a Service port
/// reaches the port its <c>targetPort</c> names on the pod its selector picks. Addresses in the rendered configuration
/// are rewritten accordingly (<see cref="Rewrite"/>):
/// <list type="bullet">
/// <item><c>&lt;svc&gt;:&lt;port&gt;</c>, <c>&lt;svc&gt;.&lt;ns&gt;:&lt;port&gt;</c>, <c>&lt;svc&gt;.&lt;ns&gt;.svc:&lt;port&gt;</c>
/// and <c>&lt;svc&gt;.&lt;ns&gt;.svc.cluster.local:&lt;port&gt;</c> → <c>127.0.0.1:&lt;the target container port's loopback port&gt;</c>;</item>
/// <item><c>127.0.0.1:&lt;containerPort&gt;</c> and <c>localhost:&lt;containerPort&gt;</c> inside a pod (a sidecar calling its
/// neighbour) → <c>127.0.0.1:&lt;that container port's loopback port&gt;</c>.</item>
/// </list>
/// An address that looks in-cluster but matches no Service port is collected in <see cref="Unresolved"/>: the chart
/// points a service at something it does not render.
/// </summary>
public sealed partial class LoopbackNetwork
{
    private readonly Dictionary<(string Pod, int ContainerPort), int> _ports = [];
    private readonly Dictionary<string, int> _serviceAddresses = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _namespaces = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _unresolved = [];

    /// <summary>Builds the map for <paramref name="pods"/> (workload name → its containers) and <paramref name="services"/>.
    /// <paramref name="provided"/> names container ports that the test serves itself (Redis, the processor beside a
    /// sidecar), with the loopback port it serves them on.</summary>
    public LoopbackNetwork(IReadOnlyList<RenderedPod> pods, IEnumerable<KubeObject> services, IReadOnlyDictionary<(string Pod, int ContainerPort), int> provided)
    {
        foreach (var pod in pods)
        {
            _namespaces.Add(pod.Namespace);
            foreach (var container in pod.AllContainers)
            {
                foreach (var port in container.Ports)
                {
                    _ports[(pod.Name, port.Number)] = provided.TryGetValue((pod.Name, port.Number), out var given) ? given : FreePort.Next();
                }
            }
        }

        foreach (var service in services)
        {
            var ns = service.Metadata.Namespace ?? pods.FirstOrDefault()?.Namespace ?? "default";
            var selector = (service.Spec.Selector ?? []).ToDictionary(pair => pair.Key, pair => pair.Value?.ToString());
            var selected = pods.Where(pod => selector.Count > 0 && selector.All(pair => pod.Labels.GetValueOrDefault(pair.Key) == pair.Value)).ToList();
            if (selected.Count != 1)
            {
                throw new InvalidOperationException(selected.Count == 0
                    ? $"Service {service.Metadata.Name} selects no rendered pod (selector {string.Join(", ", selector.Select(p => $"{p.Key}={p.Value}"))})"
                    : $"Service {service.Metadata.Name} selects {selected.Count} workloads ({string.Join(", ", selected.Select(p => p.Name))}); each Service should select one");
            }

            var pod = selected[0];
            foreach (var port in service.Spec.Ports)
            {
                var containerPort = ResolveTargetPort(pod, port.TargetPort ?? port.Port.ToString(CultureInfo.InvariantCulture))
                    ?? throw new InvalidOperationException(
                        $"Service {service.Metadata.Name} port {port.Port} targets '{port.TargetPort}', which no container of {pod.Name} declares (ports: {string.Join(", ", pod.AllContainers.SelectMany(c => c.Ports).Select(p => $"{p.Name}={p.Number}"))})");
                var loopback = _ports[(pod.Name, containerPort)];
                foreach (var name in new[] { service.Metadata.Name, $"{service.Metadata.Name}.{ns}", $"{service.Metadata.Name}.{ns}.svc", $"{service.Metadata.Name}.{ns}.svc.cluster.local" })
                {
                    _serviceAddresses[$"{name}:{port.Port.ToString(CultureInfo.InvariantCulture)}"] = loopback;
                }

                ServicePorts.Add(new(service.Metadata.Name, port.Port, pod.Name, containerPort, loopback));
            }
        }
    }

    /// <summary>Every Service port with the loopback port that serves it.</summary>
    public List<ServiceEndpoint> ServicePorts { get; } = [];

    /// <summary>In-cluster addresses found by <see cref="Rewrite"/> that no Service serves, with where they were.</summary>
    public IReadOnlyList<string> Unresolved => _unresolved;

    /// <summary>The loopback port standing for <paramref name="containerPort"/> of <paramref name="pod"/>.</summary>
    public int PortOf(string pod, int containerPort) =>
        _ports.TryGetValue((pod, containerPort), out var port) ? port : throw new InvalidOperationException($"{pod} declares no containerPort {containerPort}");

    /// <summary>The loopback port of a Service port.</summary>
    public int ServicePort(string service, int port) =>
        ServicePorts.FirstOrDefault(s => s.Service == service && s.Port == port)?.Loopback
        ?? throw new InvalidOperationException($"no rendered Service {service} with port {port} (rendered: {string.Join(", ", ServicePorts.Select(s => $"{s.Service}:{s.Port}"))})");

    /// <summary>A port given as a number or as the name of one of <paramref name="pod"/>'s container ports.</summary>
    public static int? ResolveTargetPort(RenderedPod pod, string port)
    {
        if (int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return pod.AllContainers.SelectMany(c => c.Ports).Any(p => p.Number == number) ? number : null;
        }

        return pod.AllContainers.SelectMany(c => c.Ports).FirstOrDefault(p => p.Name == port)?.Number;
    }

    /// <summary>Rewrites every address in <paramref name="text"/> as seen from <paramref name="pod"/>;
    /// <paramref name="where"/> names the setting for <see cref="Unresolved"/>.</summary>
    public string Rewrite(string text, RenderedPod pod, string where) =>
        Address().Replace(text, match =>
        {
            var host = match.Groups["host"].Value;
            var port = int.Parse(match.Groups["port"].Value, CultureInfo.InvariantCulture);
            if (host is "127.0.0.1" or "localhost")
            {
                return _ports.TryGetValue((pod.Name, port), out var local) ? $"127.0.0.1:{local.ToString(CultureInfo.InvariantCulture)}" : Unresolvable(match.Value, where);
            }

            if (_serviceAddresses.TryGetValue($"{host}:{port.ToString(CultureInfo.InvariantCulture)}", out var loopback))
            {
                return $"127.0.0.1:{loopback.ToString(CultureInfo.InvariantCulture)}";
            }

            return LooksInCluster(host) ? Unresolvable(match.Value, where) : match.Value;
        });

    private string Unresolvable(string address, string where)
    {
        _unresolved.Add($"{where}: {address}");
        return address;
    }

    private bool LooksInCluster(string host) =>
        host.Any(char.IsLetter) && (!host.Contains('.', StringComparison.Ordinal) || host.EndsWith(".svc", StringComparison.OrdinalIgnoreCase) ||
            host.EndsWith(".cluster.local", StringComparison.OrdinalIgnoreCase) || _namespaces.Any(ns => host.EndsWith("." + ns, StringComparison.OrdinalIgnoreCase)));

    [GeneratedRegex(@"(?<![\w.-])(?<host>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*):(?<port>\d{1,5})(?!\d)")]
    private static partial Regex Address();
}

/// <summary>A Service port and the loopback port serving it.</summary>
public sealed record ServiceEndpoint(string Service, int Port, string Pod, int ContainerPort, int Loopback);

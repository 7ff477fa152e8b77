using System.Globalization;
using System.Text.RegularExpressions;
using WebhookConnect.TestKit;
using YamlDotNet.RepresentationModel;

namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>One setting as the pod gives it: its configuration key, value and where it comes from.</summary>
public sealed record PodSetting(string Key, string Value, string Source);

/// <summary>
/// A container of one of our images turned into the process that runs in the pod: the image's WORKDIR, ENV and
/// ENTRYPOINT (<see cref="DockerImage"/>), then the container's <c>command</c>, <c>args</c>, <c>env</c> and
/// <c>envFrom</c> exactly as rendered (literal values with <c>$(VAR)</c> expansion, <c>secretKeyRef</c>,
/// <c>configMapKeyRef</c>, <c>fieldRef</c>, <c>resourceFieldRef</c>), and its mounted files (<see cref="PodVolumes"/>).
/// <see cref="Problems"/> lists what the rendered configuration gets wrong before anything runs: settings the service
/// does not read, mounted files no setting names, paths on no volume, ports nobody listens on, listeners the pod's
/// Services cannot reach, addresses no Service serves.
/// </summary>
public sealed partial class ServiceContainer
{
    private readonly List<KeyValuePair<string, string>> _podEnv;
    private readonly ContainerEnvironment _environment;
    private readonly List<string> _podArgs;
    private readonly List<string> _exec;

    private ServiceContainer(RenderedRelease release, RenderedPod pod, Container container, ServiceImage service, PodVolumes volumes)
    {
        Pod = pod;
        Container = container;
        Service = service;
        Volumes = volumes;
        Image = DockerImage.Read(service.Folder);
        _environment = new ContainerEnvironment(release, pod, container, Image.Env.Select(e => (e.Key, e.Value, $"Dockerfile ENV {e.Key}")));
        _podEnv = _environment.Variables;
        _exec = [.. (container.Command ?? Image.Entrypoint).Select(_environment.Expand)];
        _podArgs = [.. (container.Args ?? (container.Command is null ? Image.Cmd : [])).Select(_environment.Expand)];
        WorkingDirectory = container.WorkingDir ?? Image.WorkDir;
    }

    public RenderedPod Pod { get; }

    public Container Container { get; }

    public ServiceImage Service { get; }

    public PodVolumes Volumes { get; }

    public DockerImage Image { get; }

    public string Name => $"{Pod.Name}/{Container.Name}";

    public string WorkingDirectory { get; }

    /// <summary>Where each environment variable of the pod came from, for messages.</summary>
    public IReadOnlyDictionary<string, string> Sources => _environment.Sources;

    public List<string> Problems { get; } = [];

    /// <summary>The process as the pod starts it: the executable, its arguments, the environment.</summary>
    public IReadOnlyList<string> PodCommandLine => [.. _exec, .. _podArgs];

    public IReadOnlyList<KeyValuePair<string, string>> PodEnvironment => _podEnv;

    /// <summary>Reads the container and checks what can be checked without running it.</summary>
    public static ServiceContainer Prepare(RenderedRelease release, RenderedPod pod, Container container, ServiceImage service, PodVolumes volumes)
    {
        var result = new ServiceContainer(release, pod, container, service, volumes);
        result.Settings = result.ReadSettings();
        result.Check();
        return result;
    }

    /// <summary>Every setting the pod gives this service, lowest precedence first, as configuration keys: the
    /// connector's config file &lt; the environment (the image's ENV, then the container's) &lt; args.</summary>
    public IReadOnlyList<PodSetting> Settings { get; private set; } = [];

    /// <summary>The arguments the service gets: what follows <c>dotnet &lt;assembly&gt;</c> in the command, then args.</summary>
    private IEnumerable<string> ServiceArgs => _exec.Skip(2).Concat(_podArgs);

    private List<PodSetting> ReadSettings()
    {
        var settings = new List<PodSetting>();
        foreach (var (file, keys) in ConfigFiles())
        {
            settings.AddRange(keys.Select(pair => new PodSetting(pair.Key, pair.Value, $"config file {file}")));
        }

        foreach (var (name, value) in _podEnv)
        {
            if (KeyOfVariable(name) is { } key)
            {
                settings.Add(new PodSetting(key, value, Sources.GetValueOrDefault(name, name)));
            }
        }

        settings.AddRange(ArgumentSettings(ServiceArgs).Select(a => new PodSetting(a.Key, a.Value, $"args {a.Flag}")));
        return settings;
    }

    /// <summary>The value the service ends up with for <paramref name="key"/> in the pod, or null when it keeps its default.</summary>
    public string? PodValue(string key) => Settings.LastOrDefault(s => SameKey(s.Key, key))?.Value;

    /// <summary>Starts the process as the pod would, on this machine: addresses through <paramref name="network"/>,
    /// mount paths through <see cref="Volumes"/>. Listeners are the one deliberate change: the pod binds 0.0.0.0 (the
    /// image's <c>*:Host</c> settings), the test binds 127.0.0.1 (the network rule for tests), so each listener's host
    /// setting is overridden to 127.0.0.1, and its port to the loopback port that stands for its container port.</summary>
    public ChildProcess Start(LoopbackNetwork network)
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry inherited in Environment.GetEnvironmentVariables())
        {
            // The test's own environment must not configure the service: only what the pod gives it counts.
            if (inherited.Key is string name && (name.Contains("__", StringComparison.Ordinal) || name.StartsWith("CONNECTOR", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || name.StartsWith("OTEL_", StringComparison.Ordinal) || name == "LOG_FORMAT"))
            {
                env[name] = null;
            }
        }

        foreach (var (name, value) in _podEnv)
        {
            env[name] = Local(value, network, $"{Name} env {name}");
        }

        var args = ServiceArgs.Select(a => Local(a, network, $"{Name} args")).ToList();
        foreach (var listener in Service.Listeners)
        {
            var podPort = int.Parse(PodValue(listener.PortKey) ?? listener.DefaultPort.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
            Override(listener.HostKey, "127.0.0.1", env, args);
            Override(listener.PortKey, network.PortOf(Pod.Name, podPort).ToString(CultureInfo.InvariantCulture), env, args);
        }

        if (_exec.Count < 2 || _exec[0] != "dotnet")
        {
            throw new InvalidOperationException($"{Name} runs '{string.Join(' ', _exec)}'; the images run 'dotnet <assembly>' (services/{Service.Folder}/Dockerfile)");
        }

        var workingDirectory = Volumes.MapPaths(WorkingDirectory, Service.OutputDirectory);
        var assembly = Path.Combine(workingDirectory, Volumes.MapPaths(_exec[1], Service.OutputDirectory));
        if (!File.Exists(assembly))
        {
            throw new InvalidOperationException($"{Name} runs 'dotnet {_exec[1]}' in {WorkingDirectory}, but the image's /app has no such file (built service: {Service.AssemblyPath})");
        }

        return ChildProcess.Start(Container.Name, "dotnet", [assembly, .. args], env, workingDirectory);
    }

    /// <summary>Rewrites every env value and argument as <see cref="Start"/> will, so that an address no Service serves is
    /// recorded in <see cref="LoopbackNetwork.Unresolved"/> before anything runs.</summary>
    public void ResolveAddresses(LoopbackNetwork network)
    {
        foreach (var (name, value) in _podEnv)
        {
            Local(value, network, $"{Name} env {name}");
        }

        foreach (var argument in ServiceArgs)
        {
            Local(argument, network, $"{Name} args");
        }
    }

    /// <summary>A setting's value as the started process sees it (paths on this machine), e.g. a token file to read.</summary>
    public string? LocalValue(string key, LoopbackNetwork network) => PodValue(key) is { } value ? Local(value, network, $"{Name} {key}") : null;

    private string Local(string value, LoopbackNetwork network, string where) =>
        network.Rewrite(Volumes.MapPaths(value, Service.OutputDirectory), Pod, where);

    /// <summary>Sets <paramref name="key"/> where the pod sets it: in the args when they name it, otherwise as an
    /// environment variable (above the image's ENV and any config file).</summary>
    private void Override(string key, string value, Dictionary<string, string?> env, List<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (ArgumentKey(args[i], out var inline) is { } named && SameKey(named, key))
            {
                if (inline)
                {
                    args[i] = args[i][..(args[i].IndexOf('=', StringComparison.Ordinal) + 1)] + value;
                }
                else if (i + 1 < args.Count)
                {
                    args[i + 1] = value;
                }
            }
        }

        foreach (var name in env.Keys.ToList())
        {
            if (env[name] is not null && KeyOfVariable(name) is { } named && SameKey(named, key))
            {
                env.Remove(name);
            }
        }

        env[key.Replace(":", "__", StringComparison.Ordinal)] = value;
    }

    private void Check()
    {
        var surface = Service.Surface;
        var settings = Settings;

        // 1. Every setting is one the service reads.
        foreach (var setting in settings.Where(s => !surface.Knows(s.Key)))
        {
            Problems.Add($"{Name}: {setting.Source} sets '{setting.Key}', which {Service.Name} does not read (no such property in its options classes)");
        }

        var texts = MountedTexts();
        var referenced = string.Join('\n', _podEnv.Select(e => e.Value).Concat(_exec).Concat(_podArgs).Concat(texts.Values));
        foreach (var (name, _) in _podEnv)
        {
            if (KeyOfVariable(name) is null && !surface.KnowsVariable(name) && !_environment.ExpandedNames.Contains(name)
                && !Regex.IsMatch(referenced, $@"(?<![\w]){Regex.Escape(name)}(?![\w])"))
            {
                Problems.Add($"{Name}: {Sources.GetValueOrDefault(name, name)} sets variable {name}, which neither {Service.Name} nor the .NET runtime reads and no setting refers to");
            }
        }

        // 2. Every mounted ConfigMap or Secret file is named by a setting (its path, or a directory holding it).
        foreach (var file in Volumes.Files)
        {
            if (PodVolumes.PodPathOf(Container, file) is not { } podPath)
            {
                continue;
            }

            var mount = Container.VolumeMounts.Select(m => m.MountPath.TrimEnd('/')).Where(m => podPath.StartsWith(m + "/", StringComparison.Ordinal) || podPath == m).Max(m => m.Length);
            var candidates = new List<string> { podPath };
            for (var dir = Path.GetDirectoryName(podPath); dir is not null && dir.Length >= mount; dir = Path.GetDirectoryName(dir))
            {
                candidates.Add(dir);
            }

            // Config files name files too (a channels file its secrets, a connector config its token file).
            var others = string.Join('\n', _podEnv.Select(e => e.Value).Concat(_exec).Concat(_podArgs)
                .Concat(texts.Where(f => f.Key != podPath).Select(f => f.Value)));
            if (!candidates.Any(c => Regex.IsMatch(others, $@"(?<![\w.\-/]){Regex.Escape(c)}(?=/|$|[^\w.\-])", RegexOptions.Multiline)))
            {
                Problems.Add($"{Name}: {podPath} ({file.Source}) is mounted, but no setting of {Service.Name} names it or its directory");
            }
        }

        // 3. Every path a setting names exists in the pod: on a volume (the root filesystem is read-only, and only
        //    volumes hold what the chart provides), a directory above a mount point, or the image's /app.
        foreach (var setting in settings)
        {
            foreach (var path in setting.Value.Split(',').Select(p => p.Trim()).Where(p => p.StartsWith('/')))
            {
                if (!Volumes.Exists(path) && path != DockerImage.AppDirectory && !path.StartsWith(DockerImage.AppDirectory + "/", StringComparison.Ordinal))
                {
                    Problems.Add($"{Name}: {setting.Source} sets {setting.Key} = '{path}', which is on no volume of the pod (mounts: {string.Join(", ", Container.VolumeMounts.Select(m => m.MountPath))}); the root filesystem is read-only");
                }
            }
        }

        // 4. Listeners: each binds an address the pod network reaches, on a declared container port; each declared
        //    container port has a listener.
        var declared = Container.Ports.Select(p => p.Number).ToHashSet();
        var listened = new HashSet<int>();
        foreach (var listener in Service.Listeners)
        {
            var host = PodValue(listener.HostKey) ?? ServiceImage.LoopbackDefault;
            var portText = PodValue(listener.PortKey);
            var port = portText is null ? listener.DefaultPort : int.Parse(portText, CultureInfo.InvariantCulture);
            listened.Add(port);
            if (host is "127.0.0.1" or "localhost" or "::1" or "[::1]")
            {
                Problems.Add($"{Name}: {listener.HostKey} is {host} in the pod, so nothing outside the container reaches port {port} (probes, Services); the image sets 0.0.0.0");
            }

            if (!declared.Contains(port))
            {
                Problems.Add($"{Name}: {Service.Name} listens on {port} ({listener.PortKey}{(portText is null ? ", its default" : "")}), but the container declares no containerPort {port} (declared: {string.Join(", ", declared)})");
            }
        }

        foreach (var port in Container.Ports.Where(p => !listened.Contains(p.Number)))
        {
            Problems.Add($"{Name}: containerPort {port.Number} ({port.Name}) is declared, but {Service.Name} listens on none such (it listens on {string.Join(", ", listened)})");
        }
    }

    /// <summary>The text of every ConfigMap or Secret file this container mounts, by its path in the pod.</summary>
    private Dictionary<string, string> MountedTexts()
    {
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Volumes.Files)
        {
            if (PodVolumes.PodPathOf(Container, file) is { } podPath)
            {
                texts[podPath] = File.ReadAllText(file.Local);
            }
        }

        return texts;
    }

    /// <summary>Config files the service reads (the connector's <c>--config</c> or <c>CONNECTOR_CONFIG</c>), flattened
    /// into configuration keys; the pod path → the keys.</summary>
    private IEnumerable<(string File, List<KeyValuePair<string, string>> Keys)> ConfigFiles()
    {
        if (!Service.IsConnector)
        {
            yield break;
        }

        string? path = null;
        var args = ServiceArgs.ToList();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] is "--config" or "-c" && i + 1 < args.Count)
            {
                path = args[i + 1];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                path = args[i]["--config=".Length..];
            }
        }

        path ??= _podEnv.LastOrDefault(e => e.Key == "CONNECTOR_CONFIG").Value;
        if (string.IsNullOrEmpty(path))
        {
            yield break;
        }

        var file = Volumes.Files.FirstOrDefault(f => PodVolumes.PodPathOf(Container, f) == path)
            ?? throw new InvalidOperationException($"{Name}: the connector's config file {path} is not a file any ConfigMap or Secret mounts into the container");
        var text = File.ReadAllText(file.Local);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(text));
        var keys = new List<KeyValuePair<string, string>>();
        if (yaml.Documents.Count > 0)
        {
            Flatten(yaml.Documents[0].RootNode, "", keys);
        }

        yield return (path, [.. keys.Select(k => new KeyValuePair<string, string>(ConnectorKey(k.Key), k.Value))]);
    }

    private static void Flatten(YamlNode node, string path, List<KeyValuePair<string, string>> keys)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var (key, value) in mapping.Children)
                {
                    Flatten(value, path.Length == 0 ? ((YamlScalarNode)key).Value! : $"{path}:{((YamlScalarNode)key).Value}", keys);
                }

                break;
            case YamlSequenceNode sequence:
                for (var i = 0; i < sequence.Children.Count; i++)
                {
                    Flatten(sequence.Children[i], $"{path}:{i.ToString(CultureInfo.InvariantCulture)}", keys);
                }

                break;
            case YamlScalarNode scalar when !string.IsNullOrEmpty(scalar.Value):
                keys.Add(new(path, scalar.Value));
                break;
        }
    }

    /// <summary>The connector's file and <c>CONNECTOR__</c> keys live under <c>Connector:</c> unless they name the shared
    /// Management or Logging sections (services/Connector/Configuration/ConnectorConfiguration.cs).</summary>
    private static string ConnectorKey(string path)
    {
        var first = path.Split(':')[0];
        return first.Equals("Management", StringComparison.OrdinalIgnoreCase) || first.Equals("Logging", StringComparison.OrdinalIgnoreCase)
            || first.Equals("Connector", StringComparison.OrdinalIgnoreCase)
            ? path
            : "Connector:" + path;
    }

    /// <summary>The configuration key an environment variable sets, or null for a plain variable.</summary>
    private string? KeyOfVariable(string name)
    {
        if (Service.IsConnector && name.StartsWith("CONNECTOR__", StringComparison.OrdinalIgnoreCase))
        {
            return "Connector:" + name["CONNECTOR__".Length..].Replace("__", ":", StringComparison.Ordinal);
        }

        return name.Contains("__", StringComparison.Ordinal) ? name.Replace("__", ":", StringComparison.Ordinal) : null;
    }

    private bool SameKey(string a, string b)
    {
        static string Loose(string key) => key.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        return Service.IsConnector ? string.Equals(Loose(a), Loose(b), StringComparison.OrdinalIgnoreCase) : string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The connector's flags that name a setting (services/Connector/Configuration/ConnectorCommandLine.cs).</summary>
    private static readonly Dictionary<string, string> ConnectorFlags = new(StringComparer.Ordinal)
    {
        ["--queue-manager"] = "Connector:QueueManager:Address",
        ["--insecure"] = "Connector:QueueManager:Insecure",
        ["--ca-file"] = "Connector:QueueManager:CaFile",
        ["--client-cert-file"] = "Connector:QueueManager:ClientCertFile",
        ["--client-key-file"] = "Connector:QueueManager:ClientKeyFile",
        ["--connector-id"] = "Connector:ConnectorId",
        ["--channel"] = "Connector:Subscriptions:0:Channel",
        ["--token-file"] = "Connector:Subscriptions:0:TokenFile",
        ["--token-env"] = "Connector:Subscriptions:0:TokenEnv",
        ["--max-in-flight"] = "Connector:Subscriptions:0:MaxInFlight",
        ["--target"] = "Connector:Subscriptions:0:DefaultTarget:Url",
        ["--retry-attempts"] = "Connector:Retry:Attempts",
        ["--retry-delay"] = "Connector:Retry:Delay",
        ["--drain-grace-period"] = "Connector:DrainGracePeriod",
        ["--drop-headers"] = "Connector:DropHeaders",
        ["--also-drop-headers"] = "Connector:AlsoDropHeaders",
        ["--management-host"] = "Management:Host",
        ["--management-port"] = "Management:Port",
    };

    /// <summary>The key an argument names: <c>--Section:Key=value</c>, <c>--Section__Key value</c>, <c>/Section:Key=value</c>,
    /// <c>Section:Key=value</c> (the .NET command-line provider), or a connector flag. <paramref name="inline"/>: the
    /// value follows '=' in the same argument.</summary>
    private string? ArgumentKey(string argument, out bool inline)
    {
        inline = false;
        if (Service.IsConnector)
        {
            var equals = argument.IndexOf('=', StringComparison.Ordinal);
            var flag = equals > 0 ? argument[..equals] : argument;
            inline = equals > 0;
            return ConnectorFlags.GetValueOrDefault(flag);
        }

        var body = argument.StartsWith("--", StringComparison.Ordinal) ? argument[2..] : argument.StartsWith('/') ? argument[1..] : argument;
        var split = body.IndexOf('=', StringComparison.Ordinal);
        inline = split > 0;
        if (!inline && body.Length == argument.Length)
        {
            return null; // a bare word is a value, not a key
        }

        return (inline ? body[..split] : body).Replace("__", ":", StringComparison.Ordinal);
    }

    private List<(string Key, string Value, string Flag)> ArgumentSettings(IEnumerable<string> arguments)
    {
        var list = arguments.ToList();
        var result = new List<(string, string, string)>();
        for (var i = 0; i < list.Count; i++)
        {
            if (Service.IsConnector && list[i] == "--set" && i + 1 < list.Count)
            {
                var assignment = list[++i];
                var equals = assignment.IndexOf('=', StringComparison.Ordinal);
                result.Add((ConnectorKey(assignment[..Math.Max(equals, 0)].Replace("__", ":", StringComparison.Ordinal)), assignment[(equals + 1)..], "--set " + assignment));
                continue;
            }

            if (Service.IsConnector && list[i] is "--config" or "-c" or "--check")
            {
                i += list[i] == "--check" ? 0 : 1;
                continue;
            }

            if (ArgumentKey(list[i], out var inline) is not { } key)
            {
                if (Service.IsConnector && list[i].StartsWith('-') && !list[i].StartsWith("--config=", StringComparison.Ordinal))
                {
                    Problems.Add($"{Name}: args '{list[i]}' is no connector flag this test knows (services/Connector/Configuration/ConnectorCommandLine.cs)");
                }

                continue;
            }

            if (inline)
            {
                result.Add((key, list[i][(list[i].IndexOf('=', StringComparison.Ordinal) + 1)..], list[i]));
            }
            else if (key == "Connector:QueueManager:Insecure")
            {
                result.Add((key, "true", list[i]));
            }
            else if (i + 1 < list.Count)
            {
                result.Add((key, list[i + 1], $"{list[i]} {list[i + 1]}"));
                i++;
            }
        }

        return result;
    }

}

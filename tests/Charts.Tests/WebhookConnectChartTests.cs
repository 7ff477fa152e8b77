using System.Text.Json.Nodes;
using System.Xml.Linq;
using WebhookConnect.Charts.Tests.Support;

namespace WebhookConnect.Charts.Tests;

/// <summary>
/// charts/webhook-connect, checked offline with the real helm for every values profile under
/// tests/charts/profiles/webhook-connect (and refused for every one under tests/charts/bad-profiles/webhook-connect).
/// </summary>
public sealed class WebhookConnectChartTests : IDisposable
{
    private const string ChartName = "webhook-connect";
    private const string Release = "wc";
    private const string Prefix = "wc-webhook-connect";

    private readonly Helm _helm = new();

    public static TheoryData<string> GoodProfiles => Profiles.Good(ChartName);

    public static TheoryData<string> BadProfiles => Profiles.Bad(ChartName);

    private static string Chart => Helm.Chart(ChartName);

    public void Dispose() => _helm.Dispose();

    [Theory]
    [MemberData(nameof(GoodProfiles))]
    public async Task EveryGoodProfilePassesHelmLintStrict(string profile)
    {
        var result = await _helm.LintAsync(Chart, [Profiles.GoodPath(ChartName, profile)]);

        Assert.True(result.Succeeded, result.ToString());
    }

    [Theory]
    [MemberData(nameof(GoodProfiles))]
    public async Task EveryDocumentRenderedForAGoodProfileIsValidForKubernetes130(string profile)
    {
        var manifest = await _helm.TemplateAsync(Chart, Release, [Profiles.GoodPath(ChartName, profile)]);

        var (valid, report) = await KubernetesSchema.ValidateAsync(manifest);

        Assert.True(valid, report);
        Assert.DoesNotContain("UNKNOWN", report, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(GoodProfiles))]
    public async Task EveryPodSpecRenderedForAGoodProfileFollowsThePodPolicy(string profile)
    {
        var manifest = await RenderAsync(profile);

        Assert.NotEmpty(manifest.PodSpecs);
        var violations = PodPolicy.Violations(manifest);
        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    [Theory]
    [MemberData(nameof(BadProfiles))]
    public async Task EveryBadProfileIsRefusedByTheValuesSchemaWithItsMessage(string profile)
    {
        var path = Profiles.BadPath(ChartName, profile);

        var result = await _helm.TryTemplateAsync(Chart, Release, [path]);

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains("values don't meet the specifications of the schema", result.StandardError, StringComparison.Ordinal);
        Assert.Contains(Profiles.ExpectedMessage(path), result.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(GoodProfiles))]
    public async Task EveryFileSettingPointsAtAFileItsContainerMounts(string profile)
    {
        var manifest = await RenderAsync(profile);
        var problems = new List<string>();

        foreach (var (owner, pod) in manifest.PodSpecs)
        {
            var volumes = ((pod["volumes"] as JsonArray)?.OfType<JsonObject>() ?? []).ToDictionary(v => (string)v["name"]!);
            foreach (var container in (pod["containers"] as JsonArray)!.OfType<JsonObject>())
            {
                var mounts = (container["volumeMounts"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
                foreach (var env in (container["env"] as JsonArray)?.OfType<JsonObject>() ?? [])
                {
                    var name = (string)env["name"]!;
                    if (!name.EndsWith("File", StringComparison.Ordinal) || env["value"] is null)
                    {
                        continue;
                    }

                    var file = (string)env["value"]!;
                    var mount = mounts.SingleOrDefault(m => file.StartsWith((string)m["mountPath"]! + "/", StringComparison.Ordinal));
                    if (mount is null)
                    {
                        problems.Add($"{owner} {name}={file}: no volume is mounted there");
                        continue;
                    }

                    var relative = file[((string)mount["mountPath"]!).Length..].TrimStart('/');
                    var volume = volumes[(string)mount["name"]!];
                    var provided = volume["secret"]?["items"] is JsonArray secretItems
                        ? secretItems.Select(i => (string?)i?["path"]).ToList()
                        : volume["configMap"] is JsonObject configMap
                            ? manifest.Get("ConfigMap", (string)configMap["name"]!).Data.Keys.Select(k => (string?)k).ToList()
                            : null;
                    if (provided is not null && !provided.Contains(relative))
                    {
                        problems.Add($"{owner} {name}={file}: volume '{mount["name"]}' provides [{string.Join(", ", provided)}], not '{relative}'");
                    }
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void EveryValueInValuesYamlIsDocumentedByAComment()
    {
        var undocumented = ValuesDocumentation.Undocumented(Path.Combine(Chart, "values.yaml"));

        Assert.True(undocumented.Count == 0, "values without a comment:" + Environment.NewLine + string.Join(Environment.NewLine, undocumented));
    }

    [Fact]
    public async Task ChartAppVersionIsTheProductVersionOfDirectoryBuildProps()
    {
        var productVersion = XDocument.Load(Path.Combine(RepoPaths.Root, "Directory.Build.props"))
            .Descendants("Version").Single().Value;
        var chartYaml = await File.ReadAllTextAsync(Path.Combine(Chart, "Chart.yaml"));

        Assert.Contains($"appVersion: \"{productVersion}\"", chartYaml, StringComparison.Ordinal);
        var manifest = await RenderAsync("default.yaml");
        Assert.Equal($"webhook-connect/ingress:{productVersion}", (string?)manifest.Get("StatefulSet", $"{Prefix}-ingress").PodSpec!["containers"]![0]!["image"]);
    }

    [Fact]
    public async Task EveryPortComesFromValuesIntoTheContainerTheServiceSettingAndTheClientsAddress()
    {
        var ports = new Dictionary<string, string>
        {
            ["ingress.ports.http"] = "18080",
            ["ingress.ports.management"] = "19090",
            ["queueManager.ports.grpc"] = "15001",
            ["queueManager.ports.internal"] = "15004",
            ["queueManager.ports.http1"] = "15003",
            ["queueManager.ports.management"] = "19091",
            ["admin.ports.grpc"] = "15002",
            ["admin.ports.http"] = "18082",
            ["admin.ports.management"] = "19092",
            ["redis.port"] = "16379",
        };

        var manifest = RenderedManifest.Parse(await _helm.TemplateAsync(Chart, Release, setValues: ports));

        var ingress = manifest.Get("StatefulSet", $"{Prefix}-ingress").PodSpec!["containers"]![0]!;
        var queueManager = manifest.Get("Deployment", $"{Prefix}-queue-manager").PodSpec!["containers"]![0]!;
        var admin = manifest.Get("Deployment", $"{Prefix}-admin").PodSpec!["containers"]![0]!;
        Assert.Equal(("18080", "19090"), (Env(ingress, "Ingress__Port"), Env(ingress, "Management__Port")));
        Assert.Equal(("15001", "15004", "15003", "19091"), (Env(queueManager, "QueueManager__Port"), Env(queueManager, "QueueManager__InternalPort"), Env(queueManager, "QueueManager__HttpPort"), Env(queueManager, "Management__Port")));
        Assert.Equal(("15002", "18082", "19092"), (Env(admin, "Admin__GrpcPort"), Env(admin, "Admin__HttpPort"), Env(admin, "Management__Port")));
        Assert.Equal([18080L, 19090L], ContainerPorts(ingress));
        Assert.Equal([15001L, 15004L, 15003L, 19091L], ContainerPorts(queueManager));
        Assert.Equal([15002L, 18082L, 19092L], ContainerPorts(admin));
        Assert.Equal($"dns:///{Prefix}-queue-manager-headless:15004", Env(ingress, "Ingress__QueueManager"));
        Assert.Equal($"{Prefix}-redis:16379,password=$(REDIS_PASSWORD)", Env(queueManager, "QueueManager__Redis"));
        Assert.Equal(16379L, (long)manifest.Get("Service", $"{Prefix}-redis").At("spec", "ports", 0, "port")!);
    }

    [Fact]
    public async Task ByDefaultEachIngressPodKeepsItsSpoolOnItsOwnPersistentVolume()
    {
        var manifest = await RenderAsync("default.yaml");

        var ingress = manifest.Get("StatefulSet", $"{Prefix}-ingress");
        Assert.Null(manifest.Find("Deployment", $"{Prefix}-ingress"));
        Assert.Equal("spool", (string?)ingress.At("spec", "volumeClaimTemplates", 0, "metadata", "name"));
        Assert.Equal("Retain", (string?)ingress.At("spec", "persistentVolumeClaimRetentionPolicy", "whenScaled"));
        var container = ingress.PodSpec!["containers"]![0]!;
        var spoolPath = Env(container, "Ingress__SpoolPath");
        Assert.Equal("/var/lib/webhook-connect/spool", spoolPath);
        Assert.Contains(container["volumeMounts"]!.AsArray(), m => (string?)m!["name"] == "spool" && (string?)m["mountPath"] == spoolPath);
        Assert.DoesNotContain(ingress.PodSpec["volumes"]!.AsArray(), v => (string?)v!["name"] == "spool");
    }

    [Fact]
    public async Task TheDevProfileRunsIngressAsADeploymentWithTheSpoolOnAnEmptyDir()
    {
        var manifest = await RenderAsync("dev.yaml");

        Assert.Null(manifest.Find("StatefulSet", $"{Prefix}-ingress"));
        var ingress = manifest.Get("Deployment", $"{Prefix}-ingress");
        Assert.Contains(ingress.PodSpec!["volumes"]!.AsArray(), v => (string?)v!["name"] == "spool" && v["emptyDir"] is not null);
    }

    [Fact]
    public async Task IngressAndAdminReachEveryQueueManagerReplicaThroughTheHeadlessServiceOnTheInternalPort()
    {
        var manifest = await RenderAsync("default.yaml");

        var headless = manifest.Get("Service", $"{Prefix}-queue-manager-headless");
        Assert.Equal("None", (string?)headless.At("spec", "clusterIP"));
        Assert.Contains(headless.At("spec", "ports")!.AsArray(), p => (long)p!["port"]! == 5004 && (string?)p["targetPort"] == "internal");
        var expected = $"dns:///{Prefix}-queue-manager-headless:5004";
        Assert.Equal(expected, Env(manifest.Get("StatefulSet", $"{Prefix}-ingress").PodSpec!["containers"]![0]!, "Ingress__QueueManager"));
        Assert.Equal(expected, Env(manifest.Get("Deployment", $"{Prefix}-admin").PodSpec!["containers"]![0]!, "Admin__QueueManager"));
        var connectors = manifest.Get("Service", $"{Prefix}-queue-manager");
        // The connectors' Service: gRPC Connect and the HTTP/1.1 connector protocols, never the internal port.
        Assert.Equal([5001L, 5003L], connectors.At("spec", "ports")!.AsArray().Select(p => (long)p!["port"]!));
    }

    [Fact]
    public async Task QueueManagerReachesTheInChartRedisWithThePasswordFromItsSecret()
    {
        var manifest = await RenderAsync("default.yaml");

        var container = manifest.Get("Deployment", $"{Prefix}-queue-manager").PodSpec!["containers"]![0]!;
        Assert.Equal($"{Prefix}-redis:6379,password=$(REDIS_PASSWORD)", Env(container, "QueueManager__Redis"));
        var names = container["env"]!.AsArray().Select(e => (string?)e!["name"]).ToList();
        Assert.True(names.IndexOf("REDIS_PASSWORD") < names.IndexOf("QueueManager__Redis"), "the kubelet expands $(REDIS_PASSWORD) only from a variable defined before it");
        var passwordRef = container["env"]!.AsArray().Single(e => (string?)e!["name"] == "REDIS_PASSWORD")!["valueFrom"]!["secretKeyRef"]!;
        var secret = manifest.Get("Secret", (string)passwordRef["name"]!);
        Assert.True(secret.Data[(string)passwordRef["key"]!].Length >= 32);
        var redis = manifest.Get("StatefulSet", $"{Prefix}-redis").PodSpec!["containers"]![0]!;
        var args = redis["args"]!.AsArray().Select(a => (string?)a).ToList();
        Assert.Equal("yes", args[args.IndexOf("--appendonly") + 1]);
        Assert.Equal("noeviction", args[args.IndexOf("--maxmemory-policy") + 1]);
        // A limit below the container's memory limit: at it Redis refuses writes rather than being OOM-killed.
        Assert.Equal("640mb", args[args.IndexOf("--maxmemory") + 1]);
        Assert.Equal("$(REDIS_PASSWORD)", args[args.IndexOf("--requirepass") + 1]);
        Assert.Equal(6379L, (long)manifest.Get("Service", $"{Prefix}-redis").At("spec", "ports", 0, "port")!);
    }

    [Fact]
    public async Task QueueManagerReachesAnExternalRedisClusterWithTlsAndTheUsersSecret()
    {
        var manifest = await RenderAsync("ha-external-redis.yaml");

        Assert.Null(manifest.Find("StatefulSet", $"{Prefix}-redis"));
        var container = manifest.Get("Deployment", $"{Prefix}-queue-manager").PodSpec!["containers"]![0]!;
        Assert.Equal(
            "redis-cluster-0.redis.svc:6380,redis-cluster-1.redis.svc:6380,redis-cluster-2.redis.svc:6380,user=webhook-connect,password=$(REDIS_PASSWORD),ssl=true",
            Env(container, "QueueManager__Redis"));
        var passwordRef = container["env"]!.AsArray().Single(e => (string?)e!["name"] == "REDIS_PASSWORD")!["valueFrom"]!["secretKeyRef"]!;
        Assert.Equal("redis-credentials", (string?)passwordRef["name"]);
        Assert.Equal("password", (string?)passwordRef["key"]);
        Assert.Empty(manifest.OfKind("Secret"));
    }

    [Fact]
    public async Task GeneratedTokensAreLongEnoughForAdminAndDistinct()
    {
        var manifest = await RenderAsync("channels.yaml");

        var secret = manifest.Get("Secret", $"{Prefix}-auth");
        Assert.Equal(["admin-tokens", "contents-tokens", "internal-token", "read-only-tokens"], secret.Data.Keys.Order(StringComparer.Ordinal));
        Assert.All(secret.Data.Values, token => Assert.True(token.Length >= 32, $"a token of {token.Length} characters; admin refuses fewer than 32"));
        Assert.Equal(secret.Data.Count, secret.Data.Values.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task AutoscalingLeavesTheReplicaCountToTheHorizontalPodAutoscaler()
    {
        var manifest = await RenderAsync("ha-external-redis.yaml");

        Assert.Null(manifest.Get("StatefulSet", $"{Prefix}-ingress").At("spec", "replicas"));
        Assert.Null(manifest.Get("Deployment", $"{Prefix}-queue-manager").At("spec", "replicas"));
        Assert.Null(manifest.Get("Deployment", $"{Prefix}-admin").At("spec", "replicas"));
        var hpa = manifest.Get("HorizontalPodAutoscaler", $"{Prefix}-ingress");
        Assert.Equal("StatefulSet", (string?)hpa.At("spec", "scaleTargetRef", "kind"));
        Assert.Equal(3L, (long)hpa.At("spec", "minReplicas")!);
        Assert.Equal(6L, (long)manifest.Get("HorizontalPodAutoscaler", $"{Prefix}-admin").At("spec", "maxReplicas")!);
        var withoutAutoscaling = await RenderAsync("default.yaml");
        Assert.Equal(2L, (long)withoutAutoscaling.Get("Deployment", $"{Prefix}-admin").At("spec", "replicas")!);
        Assert.Empty(withoutAutoscaling.OfKind("HorizontalPodAutoscaler"));
    }

    [Fact]
    public async Task NetworkPoliciesLetOnlyQueueManagerReachRedisAndOnlyIngressAndAdminReachTheInternalPort()
    {
        var manifest = await RenderAsync("default.yaml");

        var redis = manifest.Get("NetworkPolicy", $"{Prefix}-redis");
        var redisRule = Assert.Single(redis.At("spec", "ingress")!.AsArray())!;
        var redisPeer = Assert.Single(redisRule["from"]!.AsArray())!;
        Assert.Equal("queue-manager", (string?)redisPeer["podSelector"]!["matchLabels"]!["app.kubernetes.io/component"]);

        var queueManager = manifest.Get("NetworkPolicy", $"{Prefix}-queue-manager");
        var internalRule = queueManager.At("spec", "ingress")!.AsArray().Single(r => (string?)r!["ports"]![0]!["port"] == "internal")!;
        Assert.Equal(
            ["admin", "ingress"],
            internalRule["from"]!.AsArray().Select(p => (string?)p!["podSelector"]!["matchLabels"]!["app.kubernetes.io/component"]).Order(StringComparer.Ordinal));

        var ingress = manifest.Get("NetworkPolicy", $"{Prefix}-ingress");
        var webhookRule = ingress.At("spec", "ingress")!.AsArray().Single(r => (string?)r!["ports"]![0]!["port"] == "http")!;
        Assert.Null(webhookRule["from"]);
    }

    [Fact]
    public async Task TheConnectorsIngressCarriesWhatIngressNginxNeedsForLongGrpcStreams()
    {
        var manifest = await RenderAsync("exposure-ingress-nginx.yaml");

        var connectors = manifest.Get("Ingress", $"{Prefix}-connectors");
        Assert.Equal("GRPC", connectors.Annotations["nginx.ingress.kubernetes.io/backend-protocol"]);
        Assert.Equal("3600", connectors.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]);
        Assert.Equal($"{Prefix}-queue-manager", (string?)connectors.At("spec", "rules", 0, "http", "paths", 0, "backend", "service", "name"));
        Assert.Equal("grpc", (string?)connectors.At("spec", "rules", 0, "http", "paths", 0, "backend", "service", "port", "name"));

        var webhooks = manifest.Get("Ingress", $"{Prefix}-webhooks");
        Assert.Equal("/webhook/", (string?)webhooks.At("spec", "rules", 0, "http", "paths", 0, "path"));
        Assert.Equal($"{Prefix}-ingress", (string?)webhooks.At("spec", "rules", 0, "http", "paths", 0, "backend", "service", "name"));
        Assert.Equal("letsencrypt", webhooks.Annotations["cert-manager.io/cluster-issuer"]);
        Assert.Equal("16m", webhooks.Annotations["nginx.ingress.kubernetes.io/proxy-body-size"]);
    }

    [Fact]
    public async Task TheConnectorsHttp1IngressRoutesConnectPathsToTheHttp1PortWithoutBufferingAndWithLongTimeouts()
    {
        var manifest = await RenderAsync("exposure-ingress-nginx.yaml");

        var http1 = manifest.Get("Ingress", $"{Prefix}-connectors-http1");
        Assert.Equal("HTTP", http1.Annotations["nginx.ingress.kubernetes.io/backend-protocol"]);
        Assert.Equal("off", http1.Annotations["nginx.ingress.kubernetes.io/proxy-buffering"]);
        Assert.Equal("3600", http1.Annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]);
        // The profile's own annotation wins over the chart's default.
        Assert.Equal("7200", http1.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]);
        Assert.Equal("nginx", (string?)http1.At("spec", "ingressClassName"));
        Assert.Equal("connect-tls", (string?)http1.At("spec", "tls", 0, "secretName"));
        var rule = http1.At("spec", "rules", 0)!;
        Assert.Equal("connect.example.com", (string?)rule["host"]);
        var path = Assert.Single(rule["http"]!["paths"]!.AsArray())!;
        Assert.Equal(("/connect/", "Prefix"), ((string?)path["path"], (string?)path["pathType"]));
        Assert.Equal(($"{Prefix}-queue-manager", "http1"), ((string?)path["backend"]!["service"]!["name"], (string?)path["backend"]!["service"]!["port"]!["name"]));
        var service = manifest.Get("Service", $"{Prefix}-queue-manager");
        Assert.Equal(5003L, (long)service.At("spec", "ports")!.AsArray().Single(p => (string?)p!["name"] == "http1")!["port"]!);

        // The gRPC Ingress keeps only the Connect service's path.
        var grpc = manifest.Get("Ingress", $"{Prefix}-connectors");
        Assert.Equal(["/webhookconnect.v1.ConnectService/"], grpc.At("spec", "rules", 0, "http", "paths")!.AsArray().Select(p => (string?)p!["path"]));
    }

    [Fact]
    public async Task TheConnectorsHttp1IngressCanBeTurnedOffAndIsNeverRenderedWithoutTheConnectorsIngress()
    {
        var off = RenderedManifest.Parse(await _helm.TemplateAsync(Chart, Release, [Profiles.GoodPath(ChartName, "exposure-ingress-nginx.yaml")],
            setValues: new Dictionary<string, string> { ["exposure.connectors.ingress.http1.enabled"] = "false" }));
        var byDefault = await RenderAsync("default.yaml");

        Assert.NotNull(off.Find("Ingress", $"{Prefix}-connectors"));
        Assert.Null(off.Find("Ingress", $"{Prefix}-connectors-http1"));
        Assert.Null(byDefault.Find("Ingress", $"{Prefix}-connectors-http1"));
        Assert.Null(byDefault.Find("HTTPRoute", $"{Prefix}-connectors-http1"));
    }

    [Fact]
    public async Task TheConnectorsHttpRouteSendsOnlyTheConnectPathsToTheHttp1Port()
    {
        var manifest = await RenderAsync("exposure-gateway.yaml");

        var route = manifest.Get("HTTPRoute", $"{Prefix}-connectors-http1");
        Assert.Equal("connectors", route.Annotations["example.com/owner"]);
        Assert.Equal("connect.example.com", (string?)route.At("spec", "hostnames", 0));
        Assert.Equal(("public", "https"), ((string?)route.At("spec", "parentRefs", 0, "name"), (string?)route.At("spec", "parentRefs", 0, "sectionName")));
        var rule = Assert.Single(route.At("spec", "rules")!.AsArray())!;
        var match = Assert.Single(rule["matches"]!.AsArray())!;
        Assert.Equal(("PathPrefix", "/connect/"), ((string?)match["path"]!["type"], (string?)match["path"]!["value"]));
        var backend = Assert.Single(rule["backendRefs"]!.AsArray())!;
        Assert.Equal(($"{Prefix}-queue-manager", 5003L), ((string?)backend["name"], (long)backend["port"]!));
    }

    [Fact]
    public async Task TheNetworkPolicyLetsConnectorsFromConnectorsFromReachTheHttp1PortLikeTheConnectPort()
    {
        var open = await RenderAsync("default.yaml");
        var narrowed = RenderedManifest.Parse(await _helm.TemplateAsync(Chart, Release,
            setValues: new Dictionary<string, string> { ["networkPolicy.connectorsFrom[0].ipBlock.cidr"] = "10.1.0.0/16" }));

        foreach (var (manifest, from) in new[] { (open, (string?)null), (narrowed, "10.1.0.0/16") })
        {
            var rules = manifest.Get("NetworkPolicy", $"{Prefix}-queue-manager").At("spec", "ingress")!.AsArray();
            var connectors = rules.Single(r => r!["ports"]!.AsArray().Any(p => (string?)p!["port"] == "http1"))!;
            Assert.Equal(["grpc", "http1"], connectors["ports"]!.AsArray().Select(p => (string?)p!["port"]));
            Assert.Equal(from, (string?)connectors["from"]?[0]?["ipBlock"]?["cidr"]);
        }
    }

    [Fact]
    public async Task AnHttp1PortSharedWithAnotherQueueManagerPortIsRefusedWithTheSettingsAtFault()
    {
        var result = await _helm.TryTemplateAsync(Chart, Release, setValues: new Dictionary<string, string> { ["queueManager.ports.http1"] = "5001" });

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains("queueManager.ports: http1 (5001) must differ from grpc (5001), internal (5004) and management (9091)", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheNotesSayWhichAddressAnHttp1OnlyConnectorDials()
    {
        var inCluster = await _helm.NotesAsync(Chart, Release, [Profiles.GoodPath(ChartName, "default.yaml")]);
        var throughIngress = await _helm.NotesAsync(Chart, Release, [Profiles.GoodPath(ChartName, "exposure-ingress-nginx.yaml")]);
        var throughGateway = await _helm.NotesAsync(Chart, Release, [Profiles.GoodPath(ChartName, "exposure-gateway.yaml")]);

        Assert.Contains($"http://{Prefix}-queue-manager.{Helm.Namespace}.svc:5003 from inside the cluster", inCluster, StringComparison.Ordinal);
        Assert.Contains($"https://connect.example.com (paths /connect/, through the Ingress {Prefix}-connectors-http1)", throughIngress, StringComparison.Ordinal);
        Assert.Contains($"the hostnames of the HTTPRoute {Prefix}-connectors-http1 on your Gateway (paths /connect/)", throughGateway, StringComparison.Ordinal);
        Assert.All([inCluster, throughIngress, throughGateway], notes => Assert.Contains("--queue-manager-http", notes, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheGrpcRouteSendsOnlyTheConnectServiceToQueueManager()
    {
        var manifest = await RenderAsync("exposure-gateway.yaml");

        var route = manifest.Get("GRPCRoute", $"{Prefix}-connectors");
        Assert.Equal("webhookconnect.v1.ConnectService", (string?)route.At("spec", "rules", 0, "matches", 0, "method", "service"));
        Assert.Equal(5001L, (long)route.At("spec", "rules", 0, "backendRefs", 0, "port")!);
        var http = manifest.Get("HTTPRoute", $"{Prefix}-webhooks");
        Assert.Equal($"{Prefix}-ingress", (string?)http.At("spec", "rules", 0, "backendRefs", 0, "name"));
    }

    [Fact]
    public async Task TheServiceMonitorScrapesTheManagementPortOfEachServiceAndNothingElse()
    {
        var manifest = await RenderAsync("exposure-ingress-nginx.yaml");

        var monitor = manifest.Get("ServiceMonitor", Prefix);
        Assert.Equal("management", (string?)monitor.At("spec", "endpoints", 0, "port"));
        Assert.Equal("kube-prometheus-stack", monitor.Labels["release"]);
        var selector = monitor.At("spec", "selector", "matchLabels")!.AsObject();
        var scraped = manifest.OfKind("Service").Where(s => selector.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == (string?)l.Value)).ToList();
        Assert.Equal(["admin", "ingress", "queue-manager"], scraped.Select(s => s.Labels["app.kubernetes.io/component"]).Order(StringComparer.Ordinal));
        Assert.All(scraped, s => Assert.Equal(["management"], s.At("spec", "ports")!.AsArray().Select(p => (string?)p!["name"])));
        Assert.All(
            manifest.OfKind("Service").Except(scraped),
            s => Assert.DoesNotContain(s.At("spec", "ports")!.AsArray(), p => (string?)p!["targetPort"] == "management"));
    }

    [Fact]
    public async Task TheGrafanaDashboardChartsEverySpec10Metric()
    {
        var manifest = await RenderAsync("exposure-ingress-nginx.yaml");

        var configMap = manifest.Get("ConfigMap", $"{Prefix}-dashboard");
        Assert.Equal("1", configMap.Labels["grafana_dashboard"]);
        var dashboard = JsonNode.Parse(configMap.Data["webhook-connect.json"])!;
        var expressions = string.Join('\n', dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]!.AsArray()).Select(t => (string?)t!["expr"]));
        string[] spec10 =
        [
            "webhookconnect_ingress_requests_total", "webhookconnect_ingress_spool_messages", "webhookconnect_publish_duration_seconds",
            "webhookconnect_queue_messages", "webhookconnect_deliveries_total", "webhookconnect_connections",
            "webhookconnect_end_to_end_seconds", "webhookconnect_connector_target_duration_seconds", "webhookconnect_connector_stream_up",
        ];
        Assert.All(spec10, metric => Assert.Contains(metric, expressions, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheChannelsFileNamesSecretsOnlyByFilesInTheMountedSecrets()
    {
        var manifest = await RenderAsync("channels.yaml");

        var channels = manifest.Get("ConfigMap", $"{Prefix}-channels").Data["channels.yaml"];
        Assert.Contains("token_file: /var/run/webhook-connect/channel-secrets/orders-secrets/token", channels, StringComparison.Ordinal);
        Assert.Contains("secret_file: /var/run/webhook-connect/channel-secrets/orders-secrets/stripe-secret", channels, StringComparison.Ordinal);
        var admin = manifest.Get("Deployment", $"{Prefix}-admin").PodSpec!;
        var container = admin["containers"]![0]!;
        Assert.Equal("/etc/webhook-connect/channels/channels.yaml", Env(container, "Admin__ChannelsFile"));
        Assert.Equal("/var/run/webhook-connect/channel-secrets", Env(container, "Admin__ChannelsFileSecretDirectories"));
        Assert.Contains(admin["volumes"]!.AsArray(), v => (string?)v!["secret"]?["secretName"] == "orders-secrets");
        Assert.Contains(container["volumeMounts"]!.AsArray(), m => (string?)m!["mountPath"] == "/var/run/webhook-connect/channel-secrets/orders-secrets");
    }

    [Fact]
    public async Task TheNotesNameTheServicesAndTheSecretTheChartRenders()
    {
        var notes = await _helm.NotesAsync(Chart, Release, [Profiles.GoodPath(ChartName, "default.yaml")]);
        var manifest = await RenderAsync("default.yaml");

        Assert.Contains($"port-forward svc/{Prefix}-admin 5002:5002 8082:8082", notes, StringComparison.Ordinal);
        Assert.Contains($"port-forward svc/{Prefix}-ingress 8080:8080", notes, StringComparison.Ordinal);
        Assert.Contains("grpcurl -plaintext -H \"authorization: Bearer $ADMIN_TOKEN\" 127.0.0.1:5002 webhookconnect.admin.v1.AdminService/ListChannels", notes, StringComparison.Ordinal);
        Assert.Contains("curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://127.0.0.1:8082/admin/webhook-connect/channels", notes, StringComparison.Ordinal);
        Assert.Contains($"get secret {Prefix}-auth -o jsonpath='{{.data.admin-tokens}}'", notes, StringComparison.Ordinal);
        Assert.NotNull(manifest.Find("Service", $"{Prefix}-admin"));
        Assert.NotNull(manifest.Find("Service", $"{Prefix}-ingress"));
        Assert.True(manifest.Get("Secret", $"{Prefix}-auth").Data.ContainsKey("admin-tokens"));
    }

    private static string? Env(JsonNode container, string name) =>
        (string?)container["env"]!.AsArray().SingleOrDefault(e => (string?)e!["name"] == name)?["value"]
        ?? throw new Xunit.Sdk.XunitException($"container {container["name"]} has no env {name}");

    private static long[] ContainerPorts(JsonNode container) =>
        [.. container["ports"]!.AsArray().Select(p => (long)p!["containerPort"]!)];

    private async Task<RenderedManifest> RenderAsync(string profile) =>
        RenderedManifest.Parse(await _helm.TemplateAsync(Chart, Release, [Profiles.GoodPath(ChartName, profile)]));
}

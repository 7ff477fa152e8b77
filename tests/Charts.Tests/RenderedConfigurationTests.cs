using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using WebhookConnect.Charts.Tests.Rendered;
using WebhookConnect.Charts.Tests.Support;
using WebhookConnect.TestKit.Services;

namespace WebhookConnect.Charts.Tests;

/// <summary>
/// Issue 15, "the rendered configuration runs": charts/webhook-connect rendered with tests/charts/rendered/webhook-connect.yaml
/// and the connector chart's sidecar rendered through tests/charts/connector-sidecar-example, laid out on this machine by
/// <see cref="RenderedCluster"/>, and driven end to end.
/// <list type="bullet">
/// <item>Processes: each container of our images runs the built service as <c>dotnet &lt;assembly&gt;</c> with the image's
/// WORKDIR, ENV and ENTRYPOINT (services/*/Dockerfile) and the container's command, args, env and mounted files exactly
/// as rendered. Redis runs as the rendered redis container's flags on this machine's redis-server. The processor beside
/// the sidecar is a recording HTTP target (<see cref="TargetServer"/>) on the port that stands for its container port.</item>
/// <item>Network: every container port is a free loopback port; <c>&lt;svc&gt;</c>, <c>&lt;svc&gt;.&lt;ns&gt;</c>,
/// <c>&lt;svc&gt;.&lt;ns&gt;.svc.cluster.local</c> (with a Service port) and a pod's own <c>127.0.0.1:&lt;containerPort&gt;</c>
/// are rewritten to it (<see cref="LoopbackNetwork"/>).</item>
/// <item>Files: volume <c>v</c> of pod <c>p</c> is <c>&lt;temp&gt;/k8s-rendered-*/p/v/</c>; every mount path is rewritten to
/// its directory in env values, args and the mounted files themselves; the image's <c>/app</c> is the built service
/// output (<see cref="PodVolumes"/>).</item>
/// <item>Listeners: the one deliberate change. The pod binds 0.0.0.0 (the images set every <c>*:Host</c>); this test binds
/// 127.0.0.1, because tests serve on loopback only: each listener's host setting is overridden to 127.0.0.1 and its port
/// to the loopback port of its container port. Nothing else is overridden.</item>
/// </list>
/// Before anything runs, the rendered configuration is checked against what the services read: a setting no options
/// class has, a plain variable nobody reads, a mounted file no setting names, a path on no volume, a listener on an
/// undeclared port or a declared port nobody listens on, an address no Service serves — each is a failure naming it.
/// A setting the services need and the chart never renders shows as a service that refuses to start or a webhook that
/// does not arrive.
/// </summary>
public sealed class RenderedConfigurationTests
{
    private const string Release = "wc";
    private const string SidecarRelease = "orders";
    private const string Channel = "orders";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AWebhookPostedToTheRenderedIngressReachesTheRenderedSidecarsTargetAndIsAcked()
    {
        using var helm = new Helm();
        var release = await RenderAsync(helm);
        await using var target = await TargetServer.StartAsync();
        var processor = release.Pods.Single(p => p.Spec.Containers.Any(c => c.Name == "processor"));
        var processorPort = processor.Container("processor").Ports.Single().Number;
        await using var cluster = RenderedCluster.Prepare(release, new Dictionary<(string, int), int> { [(processor.Name, processorPort)] = target.Port });
        Assert.True(cluster.Problems.Count == 0, "The rendered configuration does not fit the services:\n" + string.Join("\n", cluster.Problems));

        await cluster.StartRedisAsync();
        await cluster.StartAsync("queue-manager", "admin", "ingress", "connector");
        var silent = await cluster.SilentPortsAsync();
        Assert.True(silent.Count == 0, "Rendered ports nothing answers on:\n" + string.Join("\n", silent) + "\n" + cluster.Output);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var ingress = cluster.Network.ServicePort($"{Release}-webhook-connect-ingress", 8080);
        using var posted = await http.PostAsync(
            new Uri($"http://127.0.0.1:{ingress}/webhook/{Channel}"),
            new StringContent("""{"order":42}""", Encoding.UTF8, "application/json"));
        var answer = await posted.Content.ReadAsStringAsync();
        Assert.True(posted.StatusCode == HttpStatusCode.OK, $"POST /webhook/{Channel} answered {(int)posted.StatusCode} {answer}\n{cluster.Output}");
        var messageId = posted.Headers.GetValues("X-Webhook-Message-Id").Single();

        await Eventually.UntilAsync(() => target.For(messageId).Count > 0, Patience, $"message {messageId} to reach the processor");
        var delivered = Assert.Single(target.For(messageId));
        Assert.Equal("/webhooks/orders", delivered.Path);
        Assert.Equal("""{"order":42}""", Encoding.UTF8.GetString(delivered.Body));
        Assert.Equal(Channel, delivered.Header("X-Webhook-Channel"));

        // Acked: admin (its HTTP/JSON twin through its Service, with the admin token from the rendered Secret) shows the
        // channel empty and one ack.
        var admin = cluster.Container("admin");
        var token = File.ReadAllLines(admin.LocalValue("Admin:TokenFile", cluster.Network)!).First(line => line.Length > 0);
        var adminHttp = cluster.Network.ServicePort($"{Release}-webhook-connect-admin", 8082);
        var stats = new Uri($"http://127.0.0.1:{adminHttp}/admin/webhook-connect/channels/{Channel}/stats");
        JsonElement last = default;
        try
        {
            await Eventually.UntilAsync(
                async () =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, stats) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
                    using var response = await http.SendAsync(request);
                    last = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
                    return response.IsSuccessStatusCode && Number(last, "acked_total") == 1 && Number(last, "messages_queued") == 0;
                },
                Patience,
                "admin's stats of the channel to show one ack and nothing queued");
        }
        catch (TimeoutException e)
        {
            Assert.Fail($"{e.Message}; the last answer: {last}\n{cluster.Output}");
        }

        Assert.Equal(1, Number(last, "published_total"));
    }

    /// <summary>The checks that run before any process starts are what turns "a value the services ignore" into a
    /// failure; this proves they see each kind, named, when the same profile gets them on top: a setting no options class
    /// has, a variable nothing reads, a mounted file no setting names, an address (a wrong port) no Service serves.</summary>
    [Fact]
    public async Task IgnoredSettingsUnnamedFilesAndUnservedAddressesAreReportedBeforeAnythingStarts()
    {
        using var helm = new Helm();
        var release = await RenderAsync(
            helm,
            new Dictionary<string, string>
            {
                ["ingress.extraEnv[0].name"] = "Ingress__SpooolPath",
                ["ingress.extraEnv[0].value"] = "/var/lib/webhook-connect/spool",
                ["queueManager.extraEnv[0].name"] = "REDIS_URL",
                ["queueManager.extraEnv[0].value"] = "redis://example",
                ["channels.secrets[1]"] = "spare",
                ["admin.extraEnv[0].name"] = "Admin__QueueManager",
                ["admin.extraEnv[0].value"] = $"dns:///{Release}-webhook-connect-queue-manager-headless:5005",
            },
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: spare, namespace: webhook-connect}
            stringData: {unused: "x"}
            """);
        var processor = release.Pods.Single(p => p.Spec.Containers.Any(c => c.Name == "processor"));
        await using var cluster = RenderedCluster.Prepare(release, new Dictionary<(string, int), int> { [(processor.Name, 3000)] = FreePort.Next() });

        Assert.Equal(
            [
                $"{Release}-webhook-connect-admin/admin env Admin__QueueManager: {Release}-webhook-connect-queue-manager-headless:5005: no rendered Service serves this address",
                $"{Release}-webhook-connect-admin/admin: /var/run/webhook-connect/channel-secrets/spare/unused (Secret spare key unused) is mounted, but no setting of admin names it or its directory",
                $"{Release}-webhook-connect-ingress/ingress: env Ingress__SpooolPath sets 'Ingress:SpooolPath', which ingress does not read (no such property in its options classes)",
                $"{Release}-webhook-connect-queue-manager/queue-manager: env REDIS_URL sets variable REDIS_URL, which neither queue-manager nor the .NET runtime reads and no setting refers to",
            ],
            cluster.Problems.Order(StringComparer.Ordinal));
    }

    /// <summary>The cloud chart and the sidecar example, rendered, plus the Secrets the test provides as an operator would
    /// (and <paramref name="extraObjects"/>); <paramref name="extraValues"/> go on top of the cloud profile.</summary>
    private static async Task<RenderedRelease> RenderAsync(Helm helm, IReadOnlyDictionary<string, string>? extraValues = null, string extraObjects = "")
    {
        var profiles = Path.Combine(RepoPaths.ChartTests, "rendered");
        var cloud = await helm.TemplateAsync(Helm.Chart("webhook-connect"), Release, [Path.Combine(profiles, "webhook-connect.yaml")], extraValues);

        // The example's file:// dependency, resolved by copying both charts into a temporary folder (nothing is written
        // into the repository, and helm needs no network).
        var example = Directory.CreateTempSubdirectory("k8s-rendered-chart-").FullName;
        try
        {
            CopyDirectory(Path.Combine(RepoPaths.ChartTests, "connector-sidecar-example"), example);
            CopyDirectory(Helm.Chart("webhook-connect-connector"), Path.Combine(example, "charts", "webhook-connect-connector"));
            var sidecar = await helm.TemplateAsync(example, SidecarRelease);
            return new RenderedRelease(Helm.Namespace, [
                .. KubeObjects.Parse(cloud),
                .. KubeObjects.Parse(sidecar),
                .. KubeObjects.Parse(await File.ReadAllTextAsync(Path.Combine(profiles, "secrets.yaml"))),
                .. KubeObjects.Parse(extraObjects),
            ]);
        }
        finally
        {
            Directory.Delete(example, recursive: true);
        }
    }

    private static long Number(JsonElement stats, string name) =>
        stats.ValueKind == JsonValueKind.Object && stats.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : -1;

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}

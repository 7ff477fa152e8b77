using WebhookConnect.Charts.Tests.Support;

namespace WebhookConnect.Charts.Tests;

/// <summary>The chart test tooling itself: each check must be able to say no, or a green chart test proves nothing.</summary>
public sealed class ToolingTests
{
    private const string ValidDeployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: example/web:1.0.0
                  ports:
                    - name: http
                      containerPort: 8080
        """;

    [Fact]
    public async Task HelmIsTheVersionShippedInThePinnedPackage()
    {
        using var helm = new Helm();
        var result = await RunHelmVersionAsync(helm);

        Assert.StartsWith("v4.", result.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SchemaValidationAcceptsAValidDeployment()
    {
        var (valid, report) = await KubernetesSchema.ValidateAsync(ValidDeployment);

        Assert.True(valid, report);
        Assert.Contains("ok apps/v1 Deployment/web", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SchemaValidationRejectsAContainerPortThatIsNotANumber()
    {
        var (valid, report) = await KubernetesSchema.ValidateAsync(ValidDeployment.Replace("containerPort: 8080", "containerPort: http", StringComparison.Ordinal));

        Assert.False(valid, report);
        Assert.Contains("containerPort must be integer", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SchemaValidationRejectsAnApiVersionThatKubernetes130DoesNotServe()
    {
        var (valid, report) = await KubernetesSchema.ValidateAsync("""
            apiVersion: policy/v1beta1
            kind: PodDisruptionBudget
            metadata:
              name: web
            spec:
              maxUnavailable: 1
            """);

        Assert.False(valid, report);
        Assert.Contains("policy/v1beta1 is not served by a Kubernetes 1.30 API server", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SchemaValidationRejectsAPodFieldNewerThanKubernetes130()
    {
        var (valid, report) = await KubernetesSchema.ValidateAsync(ValidDeployment.Replace(
            "      containers:", "      resources: {limits: {cpu: 1}}\n      containers:", StringComparison.Ordinal));

        Assert.False(valid, report);
        Assert.Contains("spec/resources exists only from Kubernetes 1.32 on", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SchemaValidationChecksServiceMonitorsAgainstThePrometheusOperatorSchema()
    {
        var (valid, report) = await KubernetesSchema.ValidateAsync("""
            apiVersion: monitoring.coreos.com/v1
            kind: ServiceMonitor
            metadata:
              name: web
            spec:
              selector: {matchLabels: {app: web}}
              endpoints:
                - port: metrics
                  scheme: gopher
            """);

        Assert.False(valid, report);
        Assert.Contains("/spec/endpoints/0/scheme must be equal to one of the allowed values", report, StringComparison.Ordinal);
    }

    [Fact]
    public void RenderedManifestReadsScalarsAsKubernetesDoesAndFindsDocumentsByKindAndName()
    {
        var manifest = RenderedManifest.Parse("""
            ---
            # Source: a template that rendered nothing
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            data:
              port: "5000"
              enabled: "true"
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
            spec:
              ports:
                - port: 5000
                  publishNotReadyAddresses: true
            """);

        Assert.Equal(["ConfigMap/settings", "Service/web"], manifest.Documents.Select(d => d.ToString()));
        Assert.Equal("5000", manifest.Get("ConfigMap", "settings").Data["port"]);
        var port = manifest.Get("Service", "web").At("spec", "ports", 0, "port")!;
        Assert.Equal(System.Text.Json.JsonValueKind.Number, port.GetValueKind());
        Assert.Equal(5000, (long)port);
        Assert.Throws<InvalidOperationException>(() => manifest.Get("Service", "missing"));
    }

    private static async Task<string> RunHelmVersionAsync(Helm helm)
    {
        await using var process = ChildProcess.Start("helm", helm.Executable, ["version", "--short"]);
        var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, exitCode);
        return process.Output.Replace("[helm] ", string.Empty, StringComparison.Ordinal);
    }
}

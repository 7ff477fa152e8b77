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

    [Fact]
    public void PodPolicyReportsEachWeaknessOfAnUnhardenedPod()
    {
        var manifest = RenderedManifest.Parse($"""
            {ValidDeployment}
                      env:
                        - name: DB_PASSWORD
                          value: hunter2hunter2
                        - name: Redis
                          value: redis:6379,password=hunter2hunter2
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            data:
              channels.yaml: |
                token_file: /run/secrets/token
                secret: hunter2hunter2
            """.Replace("image: example/web:1.0.0", "image: example/web", StringComparison.Ordinal));

        var violations = PodPolicy.Violations(manifest);

        string[] expected =
        [
            "Deployment/web: automountServiceAccountToken must be false (no service calls the Kubernetes API)",
            "Deployment/web container web: needs runAsNonRoot: true",
            "Deployment/web container web: needs allowPrivilegeEscalation: false",
            "Deployment/web container web: needs readOnlyRootFilesystem: true",
            "Deployment/web container web: needs capabilities.drop: [ALL]",
            "Deployment/web container web: needs seccompProfile RuntimeDefault (or Localhost)",
            "Deployment/web container web: needs resources.requests.cpu",
            "Deployment/web container web: needs resources.requests.memory",
            "Deployment/web container web: needs resources.limits.memory",
            "Deployment/web container web: image 'example/web' has no tag (that means latest)",
            "Deployment/web container web: no startupProbe",
            "Deployment/web container web: no livenessProbe",
            "Deployment/web container web: no readinessProbe",
            "Deployment/web container web: env DB_PASSWORD has a literal value; take it from a Secret (valueFrom.secretKeyRef or a mounted file)",
            "Deployment/web container web: env Redis carries a literal password; reference a Secret-backed variable as $(NAME)",
            "ConfigMap/settings data[channels.yaml] has a literal secret: 'secret: …' (use a *_file key)",
        ];
        Assert.Equal(expected, violations);
    }

    [Fact]
    public void PodPolicyFindsTheValueOfARenderedSecretInAConfigMapOrAnEnvLiteral()
    {
        var manifest = RenderedManifest.Parse("""
            apiVersion: v1
            kind: Secret
            metadata:
              name: auth
            data:
              token: c2VjcmV0LXZhbHVlLTAxMjM0NTY3ODk=
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            data:
              note: "the token is secret-value-0123456789"
            """);

        var violations = PodPolicy.Violations(manifest);

        Assert.Equal(["ConfigMap/settings data[note] contains the value of Secret/auth[token]"], violations);
    }

    private static async Task<string> RunHelmVersionAsync(Helm helm)
    {
        await using var process = ChildProcess.Start("helm", helm.Executable, ["version", "--short"]);
        var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, exitCode);
        return process.Output.Replace("[helm] ", string.Empty, StringComparison.Ordinal);
    }
}

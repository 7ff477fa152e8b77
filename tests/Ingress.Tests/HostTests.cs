using System.Globalization;
using System.Net;
using WebhookConnect.Ingress.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Ingress.Tests;

/// <summary>Start-up, configuration and readiness of the ingress process.</summary>
public sealed class HostTests
{
    [Theory]
    [InlineData("Ingress:Port", "70000", "Invalid configuration: Ingress:Port = '70000'")]
    [InlineData("Ingress:Host", "example.com", "Invalid configuration: Ingress:Host = 'example.com'")]
    [InlineData("Ingress:QueueManager", "queue-manager:5001", "Invalid configuration: Ingress:QueueManager = 'queue-manager:5001'")]
    [InlineData("Ingress:SpoolMaxBytes", "10", "Invalid configuration: Ingress:SpoolMaxBytes = '10'")]
    [InlineData("Ingress:QueueManagerTokenFile", "/nonexistent/token", "Invalid configuration: Ingress:QueueManagerTokenFile = '/nonexistent/token'")]
    [InlineData("Ingress:SpoolPath", "/dev/null/spool", "Invalid configuration: Ingress:SpoolPath = '/dev/null/spool'")]
    [InlineData("Ingress:ReplayWindow", "31.00:00:00", "Invalid configuration: Ingress:ReplayWindow = '31.00:00:00'")]
    [InlineData("Ingress:ReplayWindow", "-00:00:01", "Invalid configuration: Ingress:ReplayWindow = '-00:00:01'")]
    [InlineData("Ingress:MaxBodyBytesInFlight", "2097152", "Invalid configuration: Ingress:MaxBodyBytesInFlight = '2097152': must be at least Ingress:MaxBodyBytes (15728640)")]
    [InlineData("Ingress:BodyTimeout", "00:00:00", "Invalid configuration: Ingress:BodyTimeout = '00:00:00'")]
    [InlineData("Ingress:RequestHeadersTimeout", "1:00:00", "Invalid configuration: Ingress:RequestHeadersTimeout = '1:00:00'")]
    [InlineData("Ingress:FailedVerificationsPerSecond", "0", "Invalid configuration: Ingress:FailedVerificationsPerSecond = '0'")]
    [InlineData("Ingress:QueueManagerCaFile", "/etc/hostname", "Invalid configuration: Ingress:QueueManagerCaFile = '/etc/hostname': is set but the address 'http://127.0.0.1:5004' is plaintext")]
    [InlineData("Ingress:Tls:KeyFile", "/nonexistent/tls.key", "Invalid configuration: Ingress:Tls:CertificateFile = '' (default): TLS needs both CertificateFile and KeyFile")]
    public async Task AnInvalidSettingStopsStartUpWithExitCodeTwoNamingTheSettingAndValue(string key, string value, string expected)
    {
        await using var ingress = ServiceBinaries.Start("ingress-bad-config", IngressProcess.Assembly, new Dictionary<string, string>
        {
            ["Ingress:Host"] = "127.0.0.1",
            ["Ingress:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["Ingress:SpoolPath"] = Path.Combine(Path.GetTempPath(), "wc-spool-bad-config"),
            ["Management:Host"] = "127.0.0.1",
            ["Management:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            [key] = value,
        });

        var exitCode = await ingress.WaitForExitAsync(IngressProcess.Patience);

        Assert.Equal(2, exitCode);
        Assert.Contains(expected, ingress.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutAnEndpointTableIngressIsNotReadyAndAnswers503WithRetryAfter()
    {
        var spool = Directory.CreateTempSubdirectory("wc-spool-unready-").FullName;
        try
        {
            // Nothing listens on this port: there is no queue-manager to send the endpoint table.
            await using var ingress = await IngressProcess.StartAsync(FreePort.Next(), spool, waitReady: false);

            using var ready = await ingress.Management.GetAsync(new Uri("/readyz", UriKind.Relative));
            using var webhook = await IngressStack.PostAsync(ingress.Http, "/webhook/anything", "{}"u8.ToArray());

            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains("endpoint-table", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, webhook.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(5), webhook.Headers.RetryAfter?.Delta);
        }
        finally
        {
            Directory.Delete(spool, recursive: true);
        }
    }
}

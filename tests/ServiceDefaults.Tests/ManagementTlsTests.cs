using System.Globalization;
using System.Net;
using WebhookConnect.ServiceDefaults.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.ServiceDefaults.Tests;

/// <summary>The optional TLS of the management listener (<c>Management:Tls</c>), on a real Kestrel host.</summary>
public sealed class ManagementTlsTests
{
    [Fact]
    public async Task WithACertificateTheManagementPortAnswersOnlyOverTls()
    {
        using var pki = TestPki.Create();
        var certificate = pki.IssueServer("management");
        await using var app = await TestApp.StartAsync(new Dictionary<string, string?>
        {
            ["Management:Tls:CertificateFile"] = certificate.CertificateFile,
            ["Management:Tls:KeyFile"] = certificate.KeyFile,
        });
        var port = app.ManagementPort.ToString(CultureInfo.InvariantCulture);

        string? seen = null;
        using var https = new HttpClient(pki.Handler(c => seen = c.Thumbprint)) { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await https.GetAsync(new Uri($"https://127.0.0.1:{port}/healthz"), TestContext.Current.CancellationToken);
        Assert.Equal((HttpStatusCode.OK, "Healthy"), (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)));
        Assert.Equal(certificate.Thumbprint, seen);

        await Assert.ThrowsAsync<HttpRequestException>(() => app.Management.GetAsync(new Uri("/healthz", UriKind.Relative), TestContext.Current.CancellationToken));
    }
}

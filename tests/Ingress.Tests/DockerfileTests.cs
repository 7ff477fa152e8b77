using WebhookConnect.TestKit;

namespace WebhookConnect.Ingress.Tests;

public sealed class DockerfileTests
{
    [Fact]
    public void TheImageRestoresEveryProjectOfTheServiceAndRunsAsNonRoot() =>
        Assert.Empty(DockerfileCheck.Problems("Ingress", "WebhookConnect.Ingress.csproj"));
}

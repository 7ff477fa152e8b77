using WebhookConnect.TestKit;

namespace WebhookConnect.Ingress.Tests;

public sealed class DockerfileTests
{
    [Fact]
    public void TheImageRestoresEveryProjectOfTheServiceRunsAsNonRootAndBindsItsListenersToAllAddresses() =>
        Assert.Empty(DockerfileCheck.Problems("Ingress", "WebhookConnect.Ingress.csproj", "Ingress__Host", "Management__Host"));
}

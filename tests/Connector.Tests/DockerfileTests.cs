using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests;

public sealed class DockerfileTests
{
    [Fact]
    public void TheImageRestoresEveryProjectOfTheServiceRunsAsNonRootAndBindsItsListenersToAllAddresses() =>
        Assert.Empty(DockerfileCheck.Problems("Connector", "WebhookConnect.Connector.csproj", "Management__Host"));
}

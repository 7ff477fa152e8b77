using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests;

public sealed class DockerfileTests
{
    [Fact]
    public void TheImageRestoresEveryProjectOfTheServiceAndRunsAsNonRoot() =>
        Assert.Empty(DockerfileCheck.Problems("Connector", "WebhookConnect.Connector.csproj"));
}

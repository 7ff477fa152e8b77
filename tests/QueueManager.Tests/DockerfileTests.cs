using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

public sealed class DockerfileTests
{
    [Fact]
    public void TheImageRestoresEveryProjectOfTheServiceAndRunsAsNonRoot() =>
        Assert.Empty(DockerfileCheck.Problems("QueueManager", "WebhookConnect.QueueManager.csproj"));
}

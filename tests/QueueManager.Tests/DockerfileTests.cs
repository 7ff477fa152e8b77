using WebhookConnect.TestKit;

namespace WebhookConnect.QueueManager.Tests;

public sealed class DockerfileTests
{
    [Fact]
    public void TheImageRestoresEveryProjectOfTheServiceRunsAsNonRootAndBindsItsListenersToAllAddresses() =>
        Assert.Empty(DockerfileCheck.Problems("QueueManager", "WebhookConnect.QueueManager.csproj", "QueueManager__Host", "QueueManager__InternalHost", "QueueManager__HttpHost", "Management__Host"));
}

using WebhookConnect.TestKit;

namespace WebhookConnect.Admin.Tests;

public sealed class DockerfileTests
{
    [Fact]
    public void TheImageRestoresEveryProjectOfTheServiceRunsAsNonRootAndBindsItsListenersToAllAddresses() =>
        Assert.Empty(DockerfileCheck.Problems("Admin", "WebhookConnect.Admin.csproj", "Admin__Host", "Management__Host"));
}

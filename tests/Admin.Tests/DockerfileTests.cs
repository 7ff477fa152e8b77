using WebhookConnect.TestKit;

namespace WebhookConnect.Admin.Tests;

public sealed class DockerfileTests
{
    [Fact]
    public void TheImageRestoresEveryProjectOfTheServiceAndRunsAsNonRoot() =>
        Assert.Empty(DockerfileCheck.Problems("Admin", "WebhookConnect.Admin.csproj"));
}

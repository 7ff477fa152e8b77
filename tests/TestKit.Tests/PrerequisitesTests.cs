namespace WebhookConnect.TestKit.Tests;

public sealed class PrerequisitesTests
{
    [Fact]
    public void MissingExecutableFailsWithTheInstallCommand()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            Prerequisites.RequireExecutable("wc-no-such-tool", "sudo apt-get install -y wc-no-such-tool"));

        Assert.Equal("'wc-no-such-tool' is required but was not found on PATH. Install it with: sudo apt-get install -y wc-no-such-tool", error.Message);
    }

    [Fact]
    public void PresentExecutableResolvesToItsFullPath()
    {
        var path = Prerequisites.RequireExecutable("redis-server", RedisServer.InstallHint);

        Assert.True(Path.IsPathRooted(path) && File.Exists(path), path);
    }
}

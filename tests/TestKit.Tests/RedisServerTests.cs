namespace WebhookConnect.TestKit.Tests;

public sealed class RedisServerTests
{
    [Fact]
    public async Task StartedServerAnswersOnItsOwnLoopbackPort()
    {
        await using var redis = await RedisServer.StartAsync();

        Assert.Equal($"127.0.0.1:{redis.Port}", redis.Endpoint);
        Assert.Equal("PONG", await redis.ExecuteAsync("PING"));
        Assert.Equal("OK", await redis.ExecuteAsync("SET", "greeting", "héllo ✓"));
        Assert.Equal("héllo ✓", await redis.ExecuteAsync("GET", "greeting"));
        Assert.Equal("1", await redis.ExecuteAsync("DBSIZE"));
    }

    [Fact]
    public async Task TwoServersShareNothing()
    {
        await using var first = await RedisServer.StartAsync();
        await using var second = await RedisServer.StartAsync();

        await first.ExecuteAsync("SET", "k", "v");

        Assert.NotEqual(first.Port, second.Port);
        Assert.Null(await second.ExecuteAsync("GET", "k"));
    }

    [Fact]
    public async Task AppendOnlyDataSurvivesSigkillAndRestart()
    {
        await using var redis = await RedisServer.StartAsync(appendOnly: true);
        await redis.ExecuteAsync("RPUSH", "queue", "a", "b", "c");

        await redis.KillAsync();
        await redis.RestartAsync();

        Assert.Equal("a\nb\nc", await redis.ExecuteAsync("LRANGE", "queue", "0", "-1"));
    }

    [Fact]
    public async Task WithoutAppendOnlyARestartStartsEmpty()
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.ExecuteAsync("SET", "k", "v");

        await redis.RestartAsync();

        Assert.Equal("0", await redis.ExecuteAsync("DBSIZE"));
    }

    [Fact]
    public async Task KilledServerRefusesConnectionsUntilRestarted()
    {
        await using var redis = await RedisServer.StartAsync();

        await redis.KillAsync();
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => redis.ExecuteAsync("PING"));
        await redis.RestartAsync();

        Assert.Equal("PONG", await redis.ExecuteAsync("PING"));
    }

    [Fact]
    public async Task ErrorRepliesThrowWithRedisMessage()
    {
        await using var redis = await RedisServer.StartAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => redis.ExecuteAsync("NOSUCHCOMMAND"));

        Assert.StartsWith("ERR unknown command", error.Message, StringComparison.Ordinal);
    }
}

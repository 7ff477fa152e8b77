using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.QueueManager.Channels;

using WebhookConnect.QueueManager.Tests.Support;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>Token generation, hashing and matching as the Connect stream uses them (SPEC §3).</summary>
public sealed class ChannelTokensTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void GeneratedTokensAreUrlSafeUniqueAndLongEnough()
    {
        var tokens = Enumerable.Range(0, 100).Select(_ => ChannelTokens.Generate()).ToList();

        Assert.All(tokens, t => Assert.Matches("^wct_[A-Za-z0-9_-]{43}$", t));
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
    }

    [Fact]
    public void HashIsLowerCaseHexSha256()
    {
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ChannelTokens.Hash("abc"));
    }

    [Fact]
    public void CurrentTokenMatchesAsCurrent()
    {
        var config = Config("current-token", previous: null, previousExpiresAt: null);

        Assert.True(ChannelTokens.Matches(config, "current-token", Now, out var generation));
        Assert.Equal(TokenGeneration.Current, generation);
    }

    [Fact]
    public void PreviousTokenMatchesUntilTheGracePeriodEndsThenNever()
    {
        var config = Config("current-token", previous: "old-token", previousExpiresAt: Now.AddMinutes(10));

        Assert.True(ChannelTokens.Matches(config, "old-token", Now.AddMinutes(10).AddMilliseconds(-1), out var during));
        Assert.False(ChannelTokens.Matches(config, "old-token", Now.AddMinutes(10), out var atEnd));
        Assert.Equal((TokenGeneration.Previous, TokenGeneration.Unspecified), (during, atEnd));
    }

    [Fact]
    public void PreviousTokenRevokedAtOnceNeverMatches()
    {
        // A rotation with grace 0 stores no previous token at all.
        var config = Config("current-token", previous: null, previousExpiresAt: null);

        Assert.False(ChannelTokens.Matches(config, "old-token", Now, out var generation));
        Assert.Equal(TokenGeneration.Unspecified, generation);
    }

    [Theory]
    [InlineData("")]
    [InlineData("current-toke")]
    [InlineData("current-token ")]
    [InlineData("CURRENT-TOKEN")]
    public void OtherTokensDoNotMatch(string presented)
    {
        var config = Config("current-token", previous: "old-token", previousExpiresAt: Now.AddHours(1));

        Assert.False(ChannelTokens.Matches(config, presented, Now, out var generation));
        Assert.Equal(TokenGeneration.Unspecified, generation);
    }

    [Fact]
    public void AChannelWithoutAStoredHashMatchesNothing()
    {
        var config = new ChannelConfig { Name = "x" };

        Assert.False(ChannelTokens.Matches(config, "", Now, out _));
    }

    private static ChannelConfig Config(string current, string? previous, DateTimeOffset? previousExpiresAt) => new()
    {
        Name = "tokens",
        TokenHash = ChannelTokens.Hash(current),
        PreviousTokenHash = previous is null ? "" : ChannelTokens.Hash(previous),
        PreviousTokenExpiresAt = previousExpiresAt,
    };
}

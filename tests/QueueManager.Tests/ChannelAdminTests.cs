using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;

using WebhookConnect.QueueManager.Tests.Support;

namespace WebhookConnect.QueueManager.Tests;

/// <summary>The channel methods of QueueAdminService against a real queue-manager process and redis-server.</summary>
public sealed class ChannelAdminTests(SharedQueueManager qm) : IClassFixture<SharedQueueManager>
{
    private const string GivenToken = "given-token-0123456789-abcdefghijklmnop";

    [Fact]
    public async Task CreateFillsEveryDefaultAndStoresOnlyTheTokenHash()
    {
        var name = SharedQueueManager.UniqueName("defaults");

        var created = await qm.Admin.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { GitHubEndpoint(name) } });

        var s = created.Channel.Settings;
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromHours(24)), s.Ttl);
        Assert.Equal(10_000u, s.MaxQueueSize);
        Assert.Equal(10_485_760u, s.MaxMessageBytes);
        Assert.Equal(10u, s.MaxConnections);
        Assert.Equal(100u, s.MaxInFlight);
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromSeconds(30)), s.AckTimeout);
        Assert.Equal(10u, s.MaxDeliveryAttempts);
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromSeconds(1)), s.RetryBackoff.Initial);
        Assert.Equal(2.0, s.RetryBackoff.Multiplier);
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromMinutes(5)), s.RetryBackoff.Max);
        Assert.Equal(0.2, s.RetryBackoff.Jitter);
        Assert.True(s.HasDeadLetterExpired && !s.DeadLetterExpired);
        Assert.True(s.HasPaused && !s.Paused);
        Assert.Equal(268_435_456UL, s.MaxQueueBytes);
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromHours(24)), s.HistoryRetention);
        Assert.Equal(67_108_864UL, s.HistoryMaxBytes);
        Assert.StartsWith("wct_", created.Token, StringComparison.Ordinal);
        Assert.Equal(47, created.Token.Length);
        Assert.Equal(created.Channel.CreatedAt, created.Channel.TokenIssuedAt);
        Assert.Null(created.Channel.PreviousTokenExpiresAt);
        var hash = await ConfigHashAsync(name);
        Assert.Equal(Sha256Hex(created.Token), hash["token_hash"]);
        Assert.DoesNotContain(hash.Values, v => v.Contains(created.Token, StringComparison.Ordinal));
        string[] everyField =
        [
            "ttl_ms", "max_queue_size", "max_message_bytes", "max_connections", "max_in_flight", "ack_timeout_ms",
            "max_delivery_attempts", "backoff_initial_ms", "backoff_multiplier", "backoff_max_ms", "backoff_jitter",
            "dead_letter_expired", "paused", "created_ms", "updated_ms", "token_hash", "token_issued_ms", "max_queue_bytes",
            "history_retention_ms", "history_max_bytes",
        ];
        Assert.Equal(everyField.Order(StringComparer.Ordinal), hash.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("86400000", hash["ttl_ms"]);
        Assert.Equal("0", await qm.Redis.ExecuteAsync("ZSCORE", "wc:channels", name));
        Assert.Equal(name, await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", "/" + name));
    }

    public static TheoryData<string, string> InvalidRequests => new()
    {
        { "channel-upper-case", "channel = \"Bad-Name\": must match ^[a-z0-9][a-z0-9._-]{0,62}$" },
        { "channel-too-long", "channel = \"" + new string('a', 64) + "\": must match" },
        { "channel-trailing-newline", "channel = \"name\\u000a\": must match" },
        { "ttl-zero", "settings.ttl = 0s: must be between 1s and 2592000s" },
        { "ttl-too-long", "settings.ttl = 2592001s: must be between 1s and 2592000s" },
        { "max-queue-size-zero", "settings.max_queue_size = 0: must be between 1 and 10000000" },
        { "max-message-bytes-too-big", "settings.max_message_bytes = 15728641: must be between 1 and 15728640" },
        { "max-connections-too-many", "settings.max_connections = 1001: must be between 1 and 1000" },
        { "max-in-flight-zero", "settings.max_in_flight = 0: must be between 1 and 10000" },
        { "ack-timeout-too-long", "settings.ack_timeout = 3601s: must be between 1s and 3600s" },
        { "max-delivery-attempts-zero", "settings.max_delivery_attempts = 0: must be between 1 and 1000" },
        { "backoff-multiplier-low", "settings.retry_backoff.multiplier = 0.5: must be between 1.0 and 10.0" },
        { "backoff-jitter-high", "settings.retry_backoff.jitter = 1.5: must be between 0.0 and 1.0" },
        { "backoff-initial-too-long", "settings.retry_backoff.initial = 3601s: must be between 0s and 3600s" },
        { "backoff-max-below-initial", "settings.retry_backoff.max = 5s: must be at least settings.retry_backoff.initial (10s)" },
        { "no-endpoints", "endpoints: at least one endpoint is required" },
        { "endpoint-id-invalid", "endpoints[0].id = \"Bad_Id\": must match" },
        { "endpoint-namespace-invalid", "endpoints[0].namespace = \"-ns\": must match" },
        { "endpoint-duplicate", "endpoints[1] = \"/dup\": the same endpoint (namespace/id) is listed twice" },
        { "bearer-without-token", "endpoints[0].verification.bearer.token = \"\": is required for this preset" },
        { "hmac-without-header", "endpoints[0].verification.hmac.header = \"\": is required" },
        { "hmac-without-secret", "endpoints[0].verification.hmac.secret = \"\": is required for this preset" },
        { "github-without-secret", "endpoints[0].verification.github.secret = \"\": is required for this preset" },
        { "stripe-tolerance-zero", "endpoints[0].verification.stripe.tolerance = 0s: must be between 1s and 3600s" },
        { "cidr-invalid", "endpoints[0].ip_allowlist.allowed_cidrs[1] = \"10.0.0.300/8\": must be an IP address or a CIDR" },
        { "trusted-proxy-prefix-too-long", "endpoints[0].ip_allowlist.trusted_proxies[0] = \"10.0.0.0/33\": must be an IP address or a CIDR" },
        { "rate-limit-zero", "endpoints[0].rate_limit.requests_per_second = 0: must be greater than 0" },
        { "endpoint-without-verification", "endpoints[0].verification: a preset is required (bearer, basic, hmac, github, stripe, standard_webhooks, shopify, slack); to accept unverified requests, choose none explicitly: \"verification\": {\"none\": {}} (JSON twin and channels file; \"no_verification\" in protobuf and grpcurl)" },
        { "endpoint-with-no-preset", "endpoints[0].verification: a preset is required" },
        { "max-queue-bytes-too-small", "settings.max_queue_bytes = 1023: must be between 1024 and 1099511627776" },
        { "max-queue-bytes-too-big", "settings.max_queue_bytes = 1099511627777: must be between 1024 and 1099511627776" },
        { "max-queue-bytes-below-message", "settings.max_queue_bytes = 4096: must be at least settings.max_message_bytes (8192)" },
        { "history-retention-too-long", "settings.history_retention = 2592001s: must be between 0s and 2592000s" },
        { "history-retention-negative", "settings.history_retention = -1s: must be between 0s and 2592000s" },
        { "history-max-bytes-too-big", "settings.history_max_bytes = 1099511627777: must be between 0 and 1099511627776" },
        { "idempotency-header-space", "endpoints[0].idempotency_header = \"X Delivery\": must be an HTTP header name" },
        { "token-short", "token (a secret, 10 characters): must be at least 32 characters" },
        { "token-with-space", "token (a secret): character 5 is not printable ASCII without spaces" },
    };

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public async Task InvalidCreateIsInvalidArgumentNamingTheFieldAndStoresNothing(string kind, string expectedMessage)
    {
        var name = SharedQueueManager.UniqueName("invalid");
        var request = new CreateChannelRequest { Channel = name, Endpoints = { GitHubEndpoint(name) } };
        Break(request, kind);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await qm.Admin.CreateChannelAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(expectedMessage, error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("", await qm.Redis.ExecuteAsync("KEYS", $"wc:{{{request.Channel}}}:*"));
        Assert.Null(await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", "/" + name));
    }

    [Fact]
    public async Task OutOfRangeGracePeriodAndPageSizeAreInvalidArgument()
    {
        var name = await CreateAsync("ranges");

        var grace = await Assert.ThrowsAsync<RpcException>(async () =>
            await qm.Admin.RotateTokenAsync(new RotateTokenRequest { Channel = name, GracePeriodSeconds = 2_592_001 }));
        var page = await Assert.ThrowsAsync<RpcException>(async () =>
            await qm.Admin.ListChannelsAsync(new ListChannelsRequest { PageSize = 1001 }));
        var pageToken = await Assert.ThrowsAsync<RpcException>(async () =>
            await qm.Admin.ListChannelsAsync(new ListChannelsRequest { PageToken = "not-a-token" }));

        Assert.Equal((StatusCode.InvalidArgument, "grace_period_seconds = 2592001: must be at most 2592000 (30 days)"), (grace.StatusCode, grace.Status.Detail));
        Assert.Equal((StatusCode.InvalidArgument, "page_size = 1001: must be at most 1000"), (page.StatusCode, page.Status.Detail));
        Assert.Equal(StatusCode.InvalidArgument, pageToken.StatusCode);
        Assert.StartsWith("page_token = \"not-a-token\"", pageToken.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreatingAnExistingChannelIsAlreadyExists()
    {
        var name = await CreateAsync("twice");

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await qm.Admin.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { GitHubEndpoint(name + "-other") } }));

        Assert.Equal(StatusCode.AlreadyExists, error.StatusCode);
        Assert.Equal($"channel '{name}' already exists", error.Status.Detail);
        Assert.Null(await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", "/" + name + "-other"));
    }

    [Fact]
    public async Task EndpointUrlOfAnotherChannelIsAlreadyExistsAndNothingOfTheSecondChannelIsStored()
    {
        var first = await CreateAsync("owner");
        var second = SharedQueueManager.UniqueName("intruder");

        var error = await Assert.ThrowsAsync<RpcException>(async () => await qm.Admin.CreateChannelAsync(new CreateChannelRequest
        {
            Channel = second,
            Endpoints = { GitHubEndpoint(second), GitHubEndpoint(first) },
        }));

        Assert.Equal(StatusCode.AlreadyExists, error.StatusCode);
        Assert.Equal($"endpoints[1] = \"/{first}\": this endpoint URL is already used by channel '{first}'", error.Status.Detail);
        Assert.Equal("", await qm.Redis.ExecuteAsync("KEYS", $"wc:{{{second}}}:*"));
        Assert.Null(await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", "/" + second));
        Assert.Equal(first, await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", "/" + first));
        Assert.Null(await qm.Redis.ExecuteAsync("ZSCORE", "wc:channels", second));
    }

    [Fact]
    public async Task GetNeverReturnsSecretsButSaysOneIsStored()
    {
        var name = SharedQueueManager.UniqueName("secrets");
        var bearer = new EndpointConfig
        {
            Id = "bearer",
            Namespace = name,
            Verification = new Verification { Bearer = new Verification.Types.Bearer { Token = "bearer-secret-value", Header = "X-Gitlab-Token" } },
        };
        await qm.Admin.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { GitHubEndpoint(name), bearer, new EndpointConfig { Id = "open", Namespace = name, Verification = TestChannels.Unverified } } });

        var channel = (await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = name })).Channel;

        Assert.Equal([$"/{name}", $"{name}/bearer", $"{name}/open"], channel.Endpoints.Select(e => e.Namespace + "/" + e.Id));
        var github = channel.Endpoints[0].Verification;
        Assert.Equal(("", true), (github.Github.Secret, github.HasSecret));
        var stored = channel.Endpoints[1].Verification;
        Assert.Equal(("", "X-Gitlab-Token", true), (stored.Bearer.Token, stored.Bearer.Header, stored.HasSecret));
        Assert.Equal((Verification.PresetOneofCase.NoVerification, false), (channel.Endpoints[2].Verification.PresetCase, channel.Endpoints[2].Verification.HasSecret));
        Assert.DoesNotContain("secret-value", channel.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("gh-secret", channel.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetOfAnUnknownChannelIsNotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = "no-such-channel" }));

        Assert.Equal((StatusCode.NotFound, "channel 'no-such-channel' does not exist"), (error.StatusCode, error.Status.Detail));
    }

    [Fact]
    public async Task ListPagesThroughEveryChannelInNameOrder()
    {
        var prefix = SharedQueueManager.UniqueName("list");
        string[] names = [prefix + "-c", prefix + "-a", prefix + "-e", prefix + "-b", prefix + "-d"];
        foreach (var name in names)
        {
            await qm.Admin.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { GitHubEndpoint(name) } });
        }

        var seen = new List<string>();
        var token = "";
        var pages = 0;
        do
        {
            var page = await qm.Admin.ListChannelsAsync(new ListChannelsRequest { PageSize = 2, PageToken = token });
            Assert.InRange(page.Channels.Count, page.NextPageToken.Length == 0 ? 0 : 2, 2);
            seen.AddRange(page.Channels.Select(c => c.Name));
            token = page.NextPageToken;
            Assert.True(++pages < 1000, "paging never ended");
        }
        while (token.Length > 0);

        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(names.Order(StringComparer.Ordinal), seen.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)));
        var all = await qm.Admin.ListChannelsAsync(new ListChannelsRequest());
        Assert.Equal(seen, all.Channels.Select(c => c.Name));
        Assert.Equal("", all.NextPageToken);
    }

    [Fact]
    public async Task PartialUpdateChangesOnlyThePresentFields()
    {
        var name = SharedQueueManager.UniqueName("partial");
        await qm.Admin.CreateChannelAsync(new CreateChannelRequest
        {
            Channel = name,
            Endpoints = { GitHubEndpoint(name) },
            Settings = new ChannelSettings { MaxInFlight = 50, Ttl = Duration.FromTimeSpan(TimeSpan.FromHours(2)), RetryBackoff = new RetryBackoff { Max = Duration.FromTimeSpan(TimeSpan.FromMinutes(1)) } },
        });

        var updated = (await qm.Admin.UpdateChannelAsync(new UpdateChannelRequest
        {
            Channel = name,
            Settings = new ChannelSettings { MaxConnections = 3, RetryBackoff = new RetryBackoff { Jitter = 0.5 } },
        })).Channel;

        var s = updated.Settings;
        Assert.Equal((3u, 50u, 10_000u), (s.MaxConnections, s.MaxInFlight, s.MaxQueueSize));
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromHours(2)), s.Ttl);
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromMinutes(1)), s.RetryBackoff.Max);
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromSeconds(1)), s.RetryBackoff.Initial);
        Assert.Equal((0.5, 2.0), (s.RetryBackoff.Jitter, s.RetryBackoff.Multiplier));
        Assert.True(updated.UpdatedAt.ToDateTimeOffset() > updated.CreatedAt.ToDateTimeOffset());
        Assert.Equal(updated, (await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = name })).Channel);
        var hash = await ConfigHashAsync(name);
        Assert.Equal(("3", "50", "0.5"), (hash["max_connections"], hash["max_in_flight"], hash["backoff_jitter"]));

        var error = await Assert.ThrowsAsync<RpcException>(async () => await qm.Admin.UpdateChannelAsync(new UpdateChannelRequest
        {
            Channel = name,
            Settings = new ChannelSettings { RetryBackoff = new RetryBackoff { Initial = Duration.FromTimeSpan(TimeSpan.FromMinutes(2)) } },
        }));
        Assert.Equal((StatusCode.InvalidArgument, "settings.retry_backoff.initial = 120s: must be at most settings.retry_backoff.max (60s)"), (error.StatusCode, error.Status.Detail));
    }

    [Fact]
    public async Task ApplyCreatesThenUpdatesWithoutDeletingAndValidateOnlyChangesNothing()
    {
        var name = SharedQueueManager.UniqueName("apply");
        var keep = new EndpointConfig { Id = "keep", Namespace = name, Verification = TestChannels.Unverified };
        var change = new EndpointConfig { Id = "change", Namespace = name, Verification = new Verification { Shopify = new() { Secret = "shop-secret" } } };

        var created = await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Endpoints = { keep, change } });
        var replaced = change.Clone();
        replaced.Verification.Shopify.Secret = ""; // same preset, empty secret: the stored one is kept
        replaced.RateLimit = new RateLimit { RequestsPerSecond = 5, Burst = 10 };
        var added = new EndpointConfig { Id = "added", Namespace = name, Verification = TestChannels.Unverified };
        var dryRun = await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest
        {
            Channel = name,
            Endpoints = { replaced, added },
            Settings = new ChannelSettings { MaxInFlight = 7 },
            ValidateOnly = true,
        });
        var afterDryRun = (await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = name })).Channel;
        var claimAfterDryRun = await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", $"{name}/added");
        var updated = await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest
        {
            Channel = name,
            Endpoints = { replaced, added },
            Settings = new ChannelSettings { MaxInFlight = 7 },
        });
        var again = await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Endpoints = { replaced, added }, Settings = new ChannelSettings { MaxInFlight = 7 } });

        Assert.True(created.Created);
        Assert.StartsWith("wct_", created.Token, StringComparison.Ordinal);
        Assert.Equal(created.Channel, afterDryRun);
        Assert.Equal((false, "", 7u), (dryRun.Created, dryRun.Token, dryRun.Channel.Settings.MaxInFlight));
        Assert.Null(claimAfterDryRun);
        Assert.False(updated.Created);
        Assert.Equal("", updated.Token);
        Assert.Equal(7u, updated.Channel.Settings.MaxInFlight);
        Assert.Equal([$"{name}/added", $"{name}/change", $"{name}/keep"], updated.Channel.Endpoints.Select(e => e.Namespace + "/" + e.Id));
        Assert.Equal(5, updated.Channel.Endpoints[1].RateLimit.RequestsPerSecond);
        Assert.True(updated.Channel.Endpoints[1].Verification.HasSecret);
        var route = (await qm.Publish.GetEndpointAsync(new GetEndpointRequest { Namespace = name, EndpointId = "change" })).Route;
        Assert.Equal(("shop-secret", 10u), (route.Endpoint.Verification.Shopify.Secret, route.Endpoint.RateLimit.Burst));
        Assert.Equal(updated.Channel, again.Channel);
        Assert.Equal(updated.Channel.UpdatedAt, again.Channel.UpdatedAt);
    }

    [Fact]
    public async Task ApplyWithATokenRotatesOnlyWhenItDiffers()
    {
        var name = SharedQueueManager.UniqueName("apply-token");
        var created = await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Endpoints = { GitHubEndpoint(name) }, Token = GivenToken });
        var same = await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Token = GivenToken });
        var other = GivenToken + "-next";
        var changed = await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Token = other });

        Assert.Equal((true, ""), (created.Created, created.Token));
        Assert.Equal((false, false), (same.Created, same.TokenRotated));
        Assert.True(changed.TokenRotated);
        var hash = await ConfigHashAsync(name);
        Assert.Equal((Sha256Hex(other), Sha256Hex(GivenToken)), (hash["token_hash"], hash["prev_token_hash"]));
        var graceMs = long.Parse(hash["prev_token_expires_ms"], CultureInfo.InvariantCulture) - long.Parse(hash["token_issued_ms"], CultureInfo.InvariantCulture);
        Assert.Equal(3_600_000, graceMs);
    }

    [Fact]
    public async Task ApplyWithATokenGracePeriodKeepsThePreviousTokenThatLongOrNotAtAll()
    {
        var name = SharedQueueManager.UniqueName("apply-grace");
        await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Endpoints = { GitHubEndpoint(name) }, Token = GivenToken });
        var tooLong = await Assert.ThrowsAsync<RpcException>(() => qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Token = GivenToken + "-x", TokenGracePeriodSeconds = 2_592_001 }).ResponseAsync);

        var withGrace = await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Token = GivenToken + "-a", TokenGracePeriodSeconds = 90 });
        var graced = await ConfigHashAsync(name);
        var atOnce = await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Token = GivenToken + "-b", TokenGracePeriodSeconds = 0 });
        var revoked = await ConfigHashAsync(name);

        Assert.Equal(StatusCode.InvalidArgument, tooLong.StatusCode);
        Assert.Contains("token_grace_period_seconds = 2592001", tooLong.Status.Detail, StringComparison.Ordinal);
        Assert.True(withGrace.TokenRotated && atOnce.TokenRotated);
        Assert.Equal(90_000, long.Parse(graced["prev_token_expires_ms"], CultureInfo.InvariantCulture) - long.Parse(graced["token_issued_ms"], CultureInfo.InvariantCulture));
        Assert.False(revoked.ContainsKey("prev_token_hash") && revoked["prev_token_hash"].Length > 0, "no previous token after a rotation with grace 0");
        Assert.Null(atOnce.Channel.PreviousTokenExpiresAt);
    }

    [Fact]
    public async Task RotateTokenKeepsThePreviousTokenForTheGracePeriodOnly()
    {
        var name = SharedQueueManager.UniqueName("rotate");
        await qm.Admin.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { GitHubEndpoint(name) }, Token = GivenToken });

        var before = DateTimeOffset.UtcNow;
        var first = await qm.Admin.RotateTokenAsync(new RotateTokenRequest { Channel = name, GracePeriodSeconds = 600 });
        var afterFirst = await ConfigHashAsync(name);
        var second = await qm.Admin.RotateTokenAsync(new RotateTokenRequest { Channel = name, GracePeriodSeconds = 0 });
        var afterSecond = await ConfigHashAsync(name);
        var unchanged = await qm.Admin.RotateTokenAsync(new RotateTokenRequest { Channel = name, Token = second.NewToken });
        var byDefault = await qm.Admin.RotateTokenAsync(new RotateTokenRequest { Channel = name });

        Assert.True(first.Rotated);
        Assert.StartsWith("wct_", first.NewToken, StringComparison.Ordinal);
        Assert.NotEqual(GivenToken, first.NewToken);
        Assert.Equal((Sha256Hex(first.NewToken), Sha256Hex(GivenToken)), (afterFirst["token_hash"], afterFirst["prev_token_hash"]));
        var expires = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(afterFirst["prev_token_expires_ms"], CultureInfo.InvariantCulture));
        Assert.Equal(first.PreviousTokenExpiresAt.ToDateTimeOffset(), expires);
        Assert.InRange(expires, before.AddSeconds(600).AddSeconds(-5), DateTimeOffset.UtcNow.AddSeconds(600).AddSeconds(5));
        Assert.True(second.Rotated);
        Assert.Null(second.PreviousTokenExpiresAt);
        Assert.Equal(Sha256Hex(second.NewToken), afterSecond["token_hash"]);
        Assert.False(afterSecond.ContainsKey("prev_token_hash"));
        Assert.False(afterSecond.ContainsKey("prev_token_expires_ms"));
        Assert.Equal((false, second.NewToken), (unchanged.Rotated, unchanged.NewToken));
        Assert.True(byDefault.Rotated);
        var channel = (await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = name })).Channel;
        Assert.Equal(byDefault.PreviousTokenExpiresAt, channel.PreviousTokenExpiresAt);
        Assert.Equal(TimeSpan.FromHours(1), channel.PreviousTokenExpiresAt.ToDateTimeOffset() - channel.TokenIssuedAt.ToDateTimeOffset());
    }

    [Fact]
    public async Task PauseAndResumeAreIdempotent()
    {
        var name = await CreateAsync("pause");

        var paused = (await qm.Admin.PauseChannelAsync(new PauseChannelRequest { Channel = name })).Channel;
        var pausedAgain = (await qm.Admin.PauseChannelAsync(new PauseChannelRequest { Channel = name })).Channel;
        var pausedHash = await ConfigHashAsync(name);
        var resumed = (await qm.Admin.ResumeChannelAsync(new ResumeChannelRequest { Channel = name })).Channel;
        var resumedAgain = (await qm.Admin.ResumeChannelAsync(new ResumeChannelRequest { Channel = name })).Channel;

        Assert.True(paused.Settings.Paused);
        Assert.Equal(paused, pausedAgain);
        Assert.Equal("1", pausedHash["paused"]);
        Assert.False(resumed.Settings.Paused);
        Assert.Equal(resumed, resumedAgain);
        Assert.Equal("0", (await ConfigHashAsync(name))["paused"]);
    }

    [Fact]
    public async Task EndpointsCanBeAddedUpdatedAndRemovedButNotTheLastOne()
    {
        var name = await CreateAsync("endpoints");
        var extra = new EndpointConfig { Id = "extra", Namespace = name, Verification = new Verification { Slack = new() { Secret = "slack-secret" } } };

        var added = (await qm.Admin.AddEndpointAsync(new AddEndpointRequest { Channel = name, Endpoint = extra })).Channel;
        var duplicate = await Assert.ThrowsAsync<RpcException>(async () => await qm.Admin.AddEndpointAsync(new AddEndpointRequest { Channel = name, Endpoint = extra }));
        var withoutSecret = extra.Clone();
        withoutSecret.Verification.Slack.Secret = "";
        withoutSecret.IdempotencyHeader = "X-Slack-Delivery";
        await qm.Admin.UpdateEndpointAsync(new UpdateEndpointRequest { Channel = name, Endpoint = withoutSecret });
        var route = (await qm.Publish.GetEndpointAsync(new GetEndpointRequest { Namespace = name, EndpointId = "extra" })).Route;
        var presetChange = withoutSecret.Clone();
        presetChange.Verification = new Verification { Github = new() };
        var presetError = await Assert.ThrowsAsync<RpcException>(async () => await qm.Admin.UpdateEndpointAsync(new UpdateEndpointRequest { Channel = name, Endpoint = presetChange }));
        var removed = (await qm.Admin.RemoveEndpointAsync(new RemoveEndpointRequest { Channel = name, Namespace = name, EndpointId = "extra" })).Channel;
        var last = await Assert.ThrowsAsync<RpcException>(async () => await qm.Admin.RemoveEndpointAsync(new RemoveEndpointRequest { Channel = name, EndpointId = name }));
        var gone = await Assert.ThrowsAsync<RpcException>(async () => await qm.Publish.GetEndpointAsync(new GetEndpointRequest { Namespace = name, EndpointId = "extra" }));

        Assert.Equal(2, added.Endpoints.Count);
        Assert.Equal(StatusCode.AlreadyExists, duplicate.StatusCode);
        Assert.Equal(("slack-secret", "X-Slack-Delivery", name), (route.Endpoint.Verification.Slack.Secret, route.Endpoint.IdempotencyHeader, route.Channel));
        Assert.Equal((StatusCode.InvalidArgument, "endpoint.verification.github.secret = \"\": is required for this preset"), (presetError.StatusCode, presetError.Status.Detail));
        Assert.Equal([$"/{name}"], removed.Endpoints.Select(e => e.Namespace + "/" + e.Id));
        Assert.Equal(StatusCode.FailedPrecondition, last.StatusCode);
        Assert.Contains("last endpoint", last.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        Assert.Null(await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", $"{name}/extra"));
    }

    [Fact]
    public async Task DeleteRemovesEveryKeyOfTheChannelAndItsEndpoints()
    {
        var name = await CreateAsync("delete");
        await qm.Admin.AddEndpointAsync(new AddEndpointRequest { Channel = name, Endpoint = new EndpointConfig { Id = "second", Namespace = name, Verification = TestChannels.Unverified } });
        await qm.Admin.RotateTokenAsync(new RotateTokenRequest { Channel = name });
        // What the queue engine would have written meanwhile: messages, stats, a connection.
        await qm.Redis.ExecuteAsync("HSET", $"wc:{{{name}}}:messages", "m1", "body");
        await qm.Redis.ExecuteAsync("ZADD", $"wc:{{{name}}}:ready", "1", "m1");
        await qm.Redis.ExecuteAsync("HSET", $"wc:{{{name}}}:stats", "published_total", "1");
        await qm.Redis.ExecuteAsync("ZADD", $"wc:{{{name}}}:conns", "1", "conn-" + name);
        await qm.Redis.ExecuteAsync("HSET", $"wc:{{{name}}}:conn-info", "conn-" + name, "x");
        await qm.Redis.ExecuteAsync("HSET", "wc:connection-index", "conn-" + name, name);

        await qm.Admin.DeleteChannelAsync(new DeleteChannelRequest { Channel = name });

        Assert.Equal("", await qm.Redis.ExecuteAsync("KEYS", $"wc:{{{name}}}:*"));
        Assert.Null(await qm.Redis.ExecuteAsync("ZSCORE", "wc:channels", name));
        Assert.Null(await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", "/" + name));
        Assert.Null(await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", $"{name}/second"));
        Assert.Null(await qm.Redis.ExecuteAsync("HGET", "wc:connection-index", "conn-" + name));
        foreach (var (ns, id) in new[] { ("", name), (name, "second") })
        {
            var error = await Assert.ThrowsAsync<RpcException>(async () => await qm.Publish.GetEndpointAsync(new GetEndpointRequest { Namespace = ns, EndpointId = id }));
            Assert.Equal(StatusCode.NotFound, error.StatusCode);
        }

        var getError = await Assert.ThrowsAsync<RpcException>(async () => await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = name }));
        var deleteAgain = await Assert.ThrowsAsync<RpcException>(async () => await qm.Admin.DeleteChannelAsync(new DeleteChannelRequest { Channel = name }));
        Assert.Equal((StatusCode.NotFound, StatusCode.NotFound), (getError.StatusCode, deleteAgain.StatusCode));

        // The URL is free again for another channel.
        var reuse = SharedQueueManager.UniqueName("reuse");
        await qm.Admin.CreateChannelAsync(new CreateChannelRequest { Channel = reuse, Endpoints = { GitHubEndpoint(name) } });
        Assert.Equal(reuse, (await qm.Publish.GetEndpointAsync(new GetEndpointRequest { EndpointId = name })).Route.Channel);
    }

    [Fact]
    public async Task ConcurrentAppliesOfANewChannelCreateItOnceAndAllSucceed()
    {
        var name = SharedQueueManager.UniqueName("race");
        var request = new ApplyChannelRequest { Channel = name, Endpoints = { GitHubEndpoint(name) }, Settings = new ChannelSettings { MaxInFlight = 9 } };

        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ => await qm.Admin.ApplyChannelAsync(request)));

        Assert.Single(responses, r => r.Created);
        Assert.All(responses, r => Assert.Equal(9u, r.Channel.Settings.MaxInFlight));
        Assert.Equal(name, await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", "/" + name));
    }

    [Fact]
    public async Task ConcurrentEndpointAdditionsToOneChannelAreAllKept()
    {
        var name = await CreateAsync("adds");
        var ids = Enumerable.Range(0, 8).Select(i => $"e{i}").ToArray();

        await Task.WhenAll(ids.Select(async id =>
            await qm.Admin.AddEndpointAsync(new AddEndpointRequest { Channel = name, Endpoint = new EndpointConfig { Id = id, Namespace = name, Verification = TestChannels.Unverified } })));

        var channel = (await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = name })).Channel;
        Assert.Equal(ids.Select(id => $"{name}/{id}").Prepend("/" + name), channel.Endpoints.Select(e => e.Namespace + "/" + e.Id));
        foreach (var id in ids)
        {
            var route = (await qm.Publish.GetEndpointAsync(new GetEndpointRequest { Namespace = name, EndpointId = id })).Route;
            Assert.Equal(name, route.Channel);
        }
    }

    [Fact]
    public async Task ConcurrentAppliesWhileTheChannelChangesNeverLeaveAListedEndpointWithoutItsRoute()
    {
        var name = await CreateAsync("apply-race");
        for (var round = 0; round < 12; round++)
        {
            var endpoint = new EndpointConfig { Id = $"r{round}", Namespace = name, Verification = TestChannels.Unverified };
            var applies = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
                await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = name, Endpoints = { endpoint } })));
            var toggles = Task.Run(async () =>
            {
                for (var i = 0; i < 4; i++)
                {
                    await qm.Admin.PauseChannelAsync(new PauseChannelRequest { Channel = name });
                    await qm.Admin.ResumeChannelAsync(new ResumeChannelRequest { Channel = name });
                }
            });
            await Task.WhenAll(applies.Append(toggles).Select(async t =>
            {
                try
                {
                    await t;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.Aborted)
                {
                    // Overtaken too often: allowed by the contract; the route check below is what matters.
                }
            }));

            var listed = (await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = name })).Channel.Endpoints.Any(e => e.Id == endpoint.Id);
            if (listed)
            {
                var route = (await qm.Publish.GetEndpointAsync(new GetEndpointRequest { Namespace = name, EndpointId = endpoint.Id })).Route;
                Assert.Equal(name, route.Channel);
            }
        }
    }

    [Fact]
    public async Task AddingUpdatingOrApplyingAnEndpointWithoutAPresetIsInvalidArgumentAndChangesNothing()
    {
        var name = await CreateAsync("no-preset");
        var before = (await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = name })).Channel;
        var open = new EndpointConfig { Id = "open", Namespace = name };

        var add = await Assert.ThrowsAsync<RpcException>(async () => await qm.Admin.AddEndpointAsync(new AddEndpointRequest { Channel = name, Endpoint = open }));
        var update = await Assert.ThrowsAsync<RpcException>(async () =>
            await qm.Admin.UpdateEndpointAsync(new UpdateEndpointRequest { Channel = name, Endpoint = new EndpointConfig { Id = name, IdempotencyHeader = "X-Delivery" } }));
        var apply = await Assert.ThrowsAsync<RpcException>(async () =>
            await qm.Admin.ApplyChannelAsync(new ApplyChannelRequest { Channel = SharedQueueManager.UniqueName("no-preset-apply"), Endpoints = { open } }));

        Assert.Equal((StatusCode.InvalidArgument, StatusCode.InvalidArgument, StatusCode.InvalidArgument), (add.StatusCode, update.StatusCode, apply.StatusCode));
        Assert.StartsWith("endpoint.verification: a preset is required", add.Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("endpoint.verification: a preset is required", update.Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("endpoints[0].verification: a preset is required", apply.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("\"verification\": {\"none\": {}}", add.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(before, (await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = name })).Channel);
        Assert.Null(await qm.Redis.ExecuteAsync("HGET", "wc:endpoint-index", name + "/open"));

        // Chosen explicitly, the same endpoint is accepted and reads back as `none`.
        open.Verification = new Verification { NoVerification = new() };
        var added = (await qm.Admin.AddEndpointAsync(new AddEndpointRequest { Channel = name, Endpoint = open })).Channel;
        var stored = added.Endpoints.Single(e => e.Id == "open").Verification;
        Assert.Equal((Verification.PresetOneofCase.NoVerification, false), (stored.PresetCase, stored.HasSecret));
    }

    [Fact]
    public async Task AnEndpointStoredWithoutAPresetKeepsAcceptingAndReadsBackAsNone()
    {
        var name = await CreateAsync("legacy");
        // As an older version stored it: verification absent (protobuf: field 1 = id only).
        var legacy = new EndpointConfig { Id = "legacy", Namespace = name };
        await qm.Redis.ExecuteAsync("HSET", $"wc:{{{name}}}:endpoints", name + "/legacy", Encoding.Latin1.GetString(legacy.ToByteArray()));
        await qm.Redis.ExecuteAsync("HSET", "wc:endpoint-index", name + "/legacy", name);

        var read = (await qm.Admin.GetChannelAsync(new GetChannelRequest { Channel = name })).Channel.Endpoints.Single(e => e.Id == "legacy");
        var route = (await qm.Publish.GetEndpointAsync(new GetEndpointRequest { Namespace = name, EndpointId = "legacy" })).Route.Endpoint;

        Assert.Equal(Verification.PresetOneofCase.NoVerification, read.Verification.PresetCase);
        Assert.Equal(Verification.PresetOneofCase.NoVerification, route.Verification.PresetCase);
        // What an operator reads can be written back unchanged.
        var rewritten = await qm.Admin.UpdateEndpointAsync(new UpdateEndpointRequest { Channel = name, Endpoint = read });
        Assert.Equal(Verification.PresetOneofCase.NoVerification, rewritten.Channel.Endpoints.Single(e => e.Id == "legacy").Verification.PresetCase);
    }

    internal static EndpointConfig GitHubEndpoint(string id) =>
        new() { Id = id, Verification = new Verification { Github = new Verification.Types.GitHub { Secret = "gh-secret-" + id } } };

    private async Task<string> CreateAsync(string prefix)
    {
        var name = SharedQueueManager.UniqueName(prefix);
        await qm.Admin.CreateChannelAsync(new CreateChannelRequest { Channel = name, Endpoints = { GitHubEndpoint(name) } });
        return name;
    }

    private async Task<Dictionary<string, string>> ConfigHashAsync(string name)
    {
        var flat = (await qm.Redis.ExecuteAsync("HGETALL", $"wc:{{{name}}}:channel"))!.Split('\n');
        return Enumerable.Range(0, flat.Length / 2).ToDictionary(i => flat[2 * i], i => flat[(2 * i) + 1]);
    }

    private static string Sha256Hex(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static void Break(CreateChannelRequest r, string kind)
    {
        var settings = r.Settings = new ChannelSettings();
        var endpoint = r.Endpoints[0];
        switch (kind)
        {
            case "channel-upper-case": r.Channel = "Bad-Name"; break;
            case "channel-too-long": r.Channel = new string('a', 64); break;
            case "channel-trailing-newline": r.Channel = "name\n"; break;
            case "ttl-zero": settings.Ttl = new Duration(); break;
            case "ttl-too-long": settings.Ttl = new Duration { Seconds = 2_592_001 }; break;
            case "max-queue-size-zero": settings.MaxQueueSize = 0; break;
            case "max-message-bytes-too-big": settings.MaxMessageBytes = 15_728_641; break;
            case "max-connections-too-many": settings.MaxConnections = 1001; break;
            case "max-in-flight-zero": settings.MaxInFlight = 0; break;
            case "ack-timeout-too-long": settings.AckTimeout = new Duration { Seconds = 3601 }; break;
            case "max-delivery-attempts-zero": settings.MaxDeliveryAttempts = 0; break;
            case "backoff-multiplier-low": settings.RetryBackoff = new RetryBackoff { Multiplier = 0.5 }; break;
            case "backoff-jitter-high": settings.RetryBackoff = new RetryBackoff { Jitter = 1.5 }; break;
            case "backoff-initial-too-long": settings.RetryBackoff = new RetryBackoff { Initial = new Duration { Seconds = 3601 } }; break;
            case "backoff-max-below-initial": settings.RetryBackoff = new RetryBackoff { Initial = new Duration { Seconds = 10 }, Max = new Duration { Seconds = 5 } }; break;
            case "no-endpoints": r.Endpoints.Clear(); break;
            case "endpoint-id-invalid": endpoint.Id = "Bad_Id"; break;
            case "endpoint-namespace-invalid": endpoint.Namespace = "-ns"; break;
            case "endpoint-duplicate": r.Endpoints.Clear(); r.Endpoints.Add(new EndpointConfig { Id = "dup", Verification = TestChannels.Unverified }); r.Endpoints.Add(new EndpointConfig { Id = "dup", Verification = TestChannels.Unverified }); break;
            case "bearer-without-token": endpoint.Verification = new Verification { Bearer = new() }; break;
            case "hmac-without-header": endpoint.Verification = new Verification { Hmac = new() { Secret = "s" } }; break;
            case "hmac-without-secret": endpoint.Verification = new Verification { Hmac = new() { Header = "X-Signature" } }; break;
            case "github-without-secret": endpoint.Verification = new Verification { Github = new() }; break;
            case "stripe-tolerance-zero": endpoint.Verification = new Verification { Stripe = new() { Secret = "whsec_x", Tolerance = new Duration() } }; break;
            case "cidr-invalid": endpoint.IpAllowlist = new IpAllowlist { AllowedCidrs = { "203.0.113.7", "10.0.0.300/8" } }; break;
            case "trusted-proxy-prefix-too-long": endpoint.IpAllowlist = new IpAllowlist { TrustedProxies = { "10.0.0.0/33" } }; break;
            case "rate-limit-zero": endpoint.RateLimit = new RateLimit(); break;
            case "idempotency-header-space": endpoint.IdempotencyHeader = "X Delivery"; break;
            case "endpoint-without-verification": endpoint.Verification = null; break;
            case "endpoint-with-no-preset": endpoint.Verification = new Verification(); break;
            case "max-queue-bytes-too-small": settings.MaxQueueBytes = 1023; break;
            case "max-queue-bytes-too-big": settings.MaxQueueBytes = (1UL << 40) + 1; break;
            case "max-queue-bytes-below-message": settings.MaxMessageBytes = 8192; settings.MaxQueueBytes = 4096; break;
            case "history-retention-too-long": settings.HistoryRetention = new Duration { Seconds = 2_592_001 }; break;
            case "history-retention-negative": settings.HistoryRetention = new Duration { Seconds = -1 }; break;
            case "history-max-bytes-too-big": settings.HistoryMaxBytes = (1UL << 40) + 1; break;
            case "token-short": r.Token = "0123456789"; break;
            case "token-with-space": r.Token = "abcde fghijklmnopqrstuvwxyz0123456789"; break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown case");
        }
    }
}

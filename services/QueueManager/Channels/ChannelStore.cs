using System.Text;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Redis;

namespace WebhookConnect.QueueManager.Channels;

/// <summary>
/// Channels, endpoints and tokens in Redis (SPEC §3, admin.proto).
///
/// Atomicity. Everything of one channel lives in its hash slot and changes in one MULTI/EXEC (or the delete
/// script): a channel is created with its config and endpoints together, and every later change is a
/// read-modify-write whose EXEC is conditioned on <see cref="ChannelFields.UpdatedMs"/> being unchanged. Each write
/// moves <c>updated_ms</c> strictly forward (<see cref="NextUpdate"/>), so it doubles as the channel's version and
/// concurrent writers (several admin replicas applying the same file) retry instead of overwriting each other.
///
/// Cross-slot order. The global keys cannot join a channel's transaction on Redis Cluster, so they are separate
/// commands, ordered so that an interruption between them is never visible as a wrong route:
/// - A route exists only when the endpoint index points at a channel AND that channel's endpoints hash holds the
///   endpoint (<see cref="EndpointTable"/> checks both). So URLs are claimed in the index (HSETNX) BEFORE the
///   channel's transaction, and released AFTER it; a claim without the endpoint is invisible, and is rolled back
///   when the transaction fails.
/// - The channel list (<see cref="GlobalKeys.Channels"/>) is updated after creation and after deletion; the list
///   skips names whose config is gone.
/// - The endpoint revision is incremented after the change it announces, then the event is published, so a watcher
///   that reads revision r and then the table sees at least what r announced.
/// What an interruption can leave behind is an index entry pointing at a channel that does not list the endpoint:
/// it blocks that URL for other channels (ALREADY_EXISTS names the holder) and is healed when the holder
/// channel claims it again.
/// </summary>
public sealed partial class ChannelStore(
    IConnectionMultiplexer redis, ClusterEvents events, TimeProvider time, IOptions<QueueManagerOptions> options, ILogger<ChannelStore> logger)
{
    private const int MaxAttempts = 10;
    private const string PageTokenPrefix = "after:";

    /// <summary>delete-channel.lua: a channel's keys disappear together.</summary>
    public static readonly RedisScript DeleteScript = new("delete-channel.lua", LoadScript("delete-channel.lua"));

    private IDatabase Db => redis.GetDatabase();

    public async Task<CreateChannelResponse> CreateAsync(CreateChannelRequest request)
    {
        ChannelValidation.Name("channel", request.Channel);
        var (config, endpoints, token) = PlanCreate(request.Channel, request.Settings, request.Endpoints, request.Token);
        await CreateCoreAsync(config, endpoints);
        LogCreated(logger, config.Name, endpoints.Count);
        return new CreateChannelResponse { Channel = ChannelMapping.ToInfo(config, endpoints, Now()), Token = token };
    }

    public async Task<ChannelInfo> GetAsync(string channel)
    {
        ChannelValidation.Name("channel", channel);
        var snapshot = await ReadAsync(channel) ?? throw ChannelException.ChannelNotFound(channel);
        return snapshot.ToInfo(Now());
    }

    /// <summary>Channels ordered by name. The page token is base64url of <c>after:&lt;last name&gt;</c>, so a page
    /// starts right after the previous one even when channels were added or deleted in between.</summary>
    public async Task<ListChannelsResponse> ListAsync(ListChannelsRequest request)
    {
        var pageSize = ChannelValidation.PageSize(request.PageSize);
        var after = DecodePageToken(request.PageToken);
        var names = await Db.SortedSetRangeByValueAsync(
            GlobalKeys.Channels,
            after is null ? RedisValue.Null : (RedisValue)after,
            RedisValue.Null,
            after is null ? Exclude.None : Exclude.Start,
            Order.Ascending,
            skip: 0,
            take: pageSize + 1);
        var page = names.Take((int)pageSize).Select(n => (string)n!).ToArray();
        var snapshots = await Task.WhenAll(page.Select(ReadAsync));
        var now = Now();
        var response = new ListChannelsResponse();
        // A name can outlive its channel briefly (deleted, index not yet cleaned): skipped, never shown half.
        response.Channels.AddRange(snapshots.OfType<Snapshot>().Select(s => s.ToInfo(now)));
        if (names.Length > pageSize)
        {
            response.NextPageToken = EncodePageToken(page[^1]);
        }

        return response;
    }

    public Task<ChannelInfo> UpdateAsync(UpdateChannelRequest request)
    {
        ChannelValidation.Name("channel", request.Channel);
        return MutateAsync(request.Channel, async snapshot =>
        {
            var after = ChannelValidation.ApplySettings(snapshot.Config, request.Settings);
            if (after == snapshot.Config)
            {
                return snapshot.ToInfo(Now());
            }

            return await CommitAndNotifyAsync(snapshot, after);
        });
    }

    public async Task DeleteAsync(string channel)
    {
        ChannelValidation.Name("channel", channel);
        var keys = new ChannelKeys(channel);
        RedisKey[] scriptKeys = [keys.Config, keys.Endpoints, keys.Connections, keys.ConnectionInfo, .. keys.All()];
        var result = await DeleteScript.EvaluateAsync(Db, scriptKeys, []);
        if (result.IsNull)
        {
            throw ChannelException.ChannelNotFound(channel);
        }

        var parts = (RedisResult[])result!;
        var endpointFields = ((RedisValue[])parts[0]!).Select(v => (string)v!).ToArray();
        var connectionIds = ((RedisValue[])parts[1]!).Distinct().ToArray();

        // The channel is gone as of the script; what follows only tidies the cross-slot indexes.
        await ReleaseAsync(channel, endpointFields);
        if (connectionIds.Length > 0)
        {
            await Db.HashDeleteAsync(GlobalKeys.ConnectionIndex, connectionIds);
        }

        if (!await Db.KeyExistsAsync(keys.Config))
        {
            // Not when a concurrent create of the same name already listed the new channel.
            await Db.SortedSetRemoveAsync(GlobalKeys.Channels, channel);
        }

        LogDeleted(logger, channel, endpointFields.Length);
        await Db.StringIncrementAsync(GlobalKeys.EndpointRevision);
        await PublishAsync(ClusterEvent.ChannelDeleted(channel));
        await PublishAsync(ClusterEvent.EndpointsChanged());
    }

    public async Task<ApplyChannelResponse> ApplyAsync(ApplyChannelRequest request)
    {
        ChannelValidation.Name("channel", request.Channel);
        if (request.Token.Length > 0)
        {
            ChannelValidation.Token("token", request.Token);
        }

        ChannelValidation.Endpoints("endpoints", request.Endpoints);
        var grace = ChannelValidation.GracePeriod(request.HasTokenGracePeriodSeconds, request.TokenGracePeriodSeconds, "token_grace_period_seconds");
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var snapshot = await ReadAsync(request.Channel);
            if (snapshot is null)
            {
                var (config, endpoints, token) = PlanCreate(request.Channel, request.Settings, request.Endpoints, request.Token);
                var created = new ApplyChannelResponse
                {
                    Channel = ChannelMapping.ToInfo(config, endpoints, Now()),
                    Created = true,
                    Token = request.Token.Length == 0 && !request.ValidateOnly ? token : "",
                };
                if (request.ValidateOnly)
                {
                    await EnsureUrlsFreeAsync(request.Channel, endpoints.Select((e, i) => ($"endpoints[{i}]", EndpointSecrets.Field(e))));
                    return created;
                }

                try
                {
                    await CreateCoreAsync(config, endpoints);
                }
                catch (ChannelException ex) when (ex.Failure == ChannelFailure.AlreadyExists)
                {
                    if (await ChannelExistsAsync(request.Channel))
                    {
                        // Another applier created it meanwhile (several admin replicas at start-up): update it instead.
                        continue;
                    }

                    throw;
                }

                LogCreated(logger, config.Name, endpoints.Count);
                return created;
            }

            var plan = PlanUpdate(snapshot, request, grace);
            if (request.ValidateOnly)
            {
                await EnsureUrlsFreeAsync(request.Channel, plan.NewUrls);
                return plan.Response(plan.After, snapshot.Endpoints, Now());
            }

            if (plan.After == snapshot.Config && plan.Upserts.Count == 0)
            {
                return plan.Response(snapshot.Config, snapshot.Endpoints, Now());
            }

            var committed = await CommitWithClaimsAsync(snapshot, plan.After, plan.NewUrls, plan.Upserts);
            if (committed is null)
            {
                continue;
            }

            var response = plan.Response(committed.Config, committed.Endpoints, Now());
            await NotifyAsync(snapshot, committed);
            return response;
        }

        throw Contended(request.Channel);
    }

    public Task<ChannelInfo> AddEndpointAsync(AddEndpointRequest request)
    {
        ChannelValidation.Name("channel", request.Channel);
        ChannelValidation.Endpoint("endpoint", request.Endpoint);
        var stored = EndpointSecrets.ForStorage("endpoint", request.Endpoint, null);
        var field = EndpointSecrets.Field(stored);
        return MutateAsync(request.Channel, async snapshot =>
        {
            if (snapshot.Endpoints.ContainsKey(field))
            {
                throw new ChannelException(ChannelFailure.AlreadyExists, $"endpoint = \"{field}\": the channel '{request.Channel}' already has this endpoint (use UpdateEndpoint)");
            }

            var committed = await CommitWithClaimsAsync(snapshot, snapshot.Config, [("endpoint", field)], [stored]);
            if (committed is null)
            {
                return null;
            }

            LogEndpointAdded(logger, request.Channel, field);
            await NotifyAsync(snapshot, committed);
            return committed.ToInfo(Now());
        });
    }

    public Task<ChannelInfo> UpdateEndpointAsync(UpdateEndpointRequest request)
    {
        ChannelValidation.Name("channel", request.Channel);
        ChannelValidation.Endpoint("endpoint", request.Endpoint);
        var field = EndpointSecrets.Field(request.Endpoint);
        return MutateAsync(request.Channel, async snapshot =>
        {
            if (!snapshot.Endpoints.TryGetValue(field, out var current))
            {
                throw new ChannelException(ChannelFailure.NotFound, $"endpoint = \"{field}\": the channel '{request.Channel}' has no such endpoint");
            }

            var stored = EndpointSecrets.ForStorage("endpoint", request.Endpoint, current);
            if (stored.Equals(current))
            {
                return snapshot.ToInfo(Now());
            }

            var committed = await CommitAsync(snapshot, snapshot.Config, [stored], []);
            if (committed is null)
            {
                return null;
            }

            await NotifyAsync(snapshot, committed);
            return committed.ToInfo(Now());
        });
    }

    public Task<ChannelInfo> RemoveEndpointAsync(RemoveEndpointRequest request)
    {
        ChannelValidation.Name("channel", request.Channel);
        ChannelValidation.Name("endpoint_id", request.EndpointId);
        if (request.Namespace.Length > 0)
        {
            ChannelValidation.Name("namespace", request.Namespace);
        }

        var field = GlobalKeys.EndpointField(request.Namespace, request.EndpointId);
        return MutateAsync(request.Channel, async snapshot =>
        {
            if (!snapshot.Endpoints.ContainsKey(field))
            {
                throw new ChannelException(ChannelFailure.NotFound, $"endpoint = \"{field}\": the channel '{request.Channel}' has no such endpoint");
            }

            if (snapshot.Endpoints.Count == 1)
            {
                throw new ChannelException(ChannelFailure.Precondition, $"endpoint = \"{field}\": it is the last endpoint of channel '{request.Channel}'; a channel has one or more (delete the channel instead)");
            }

            var committed = await CommitAsync(snapshot, snapshot.Config, [], [field]);
            if (committed is null)
            {
                return null;
            }

            await ReleaseAsync(request.Channel, [field]);
            LogEndpointRemoved(logger, request.Channel, field);
            await NotifyAsync(snapshot, committed);
            return committed.ToInfo(Now());
        });
    }

    public async Task<RotateTokenResponse> RotateTokenAsync(RotateTokenRequest request)
    {
        ChannelValidation.Name("channel", request.Channel);
        var grace = ChannelValidation.GracePeriod(request.HasGracePeriodSeconds, request.GracePeriodSeconds);
        if (request.Token.Length > 0)
        {
            ChannelValidation.Token("token", request.Token);
        }

        var token = request.Token.Length > 0 ? request.Token : ChannelTokens.Generate();
        var hash = ChannelTokens.Hash(token);
        var now = Now();
        RotateTokenResponse? response = null;
        await MutateAsync(request.Channel, async snapshot =>
        {
            var current = snapshot.Config;
            if (current.TokenHash == hash)
            {
                response = new RotateTokenResponse { NewToken = token, Rotated = false };
                if (current.PreviousTokenExpiresAt is { } still && still > now)
                {
                    response.PreviousTokenExpiresAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(still);
                }

                return snapshot.ToInfo(now);
            }

            var committed = await CommitAndNotifyAsync(snapshot, Rotated(current, hash, grace, now));
            if (committed is not null)
            {
                response = new RotateTokenResponse { NewToken = token, Rotated = true };
                if (grace > TimeSpan.Zero)
                {
                    response.PreviousTokenExpiresAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(now + grace);
                }

                LogTokenRotated(logger, request.Channel, (long)grace.TotalSeconds);
            }

            return committed;
        });
        return response!;
    }

    public Task<ChannelInfo> SetPausedAsync(string channel, bool paused)
    {
        ChannelValidation.Name("channel", channel);
        return MutateAsync(channel, async snapshot =>
            snapshot.Config.Paused == paused
                ? snapshot.ToInfo(Now())
                : await CommitAndNotifyAsync(snapshot, snapshot.Config with { Paused = paused }));
    }

    /// <summary>Reads one channel with its endpoints in one MULTI, so config and endpoints belong together.</summary>
    internal async Task<Snapshot?> ReadAsync(string channel)
    {
        var keys = new ChannelKeys(channel);
        var tx = Db.CreateTransaction();
        var configTask = tx.HashGetAllAsync(keys.Config);
        var endpointsTask = tx.HashGetAllAsync(keys.Endpoints);
        await tx.ExecuteAsync();
        var entries = await configTask;
        var config = ChannelConfig.FromHash(channel, entries);
        if (config is null)
        {
            return null;
        }

        // A channel stored before max_queue_bytes existed reads (and is enforced, publish.lua) with the
        // queue-manager default; its next change stores that value.
        config = config with { MaxQueueBytes = config.MaxQueueBytes ?? options.Value.DefaultMaxQueueBytes };

        var endpoints = new SortedDictionary<string, EndpointConfig>(StringComparer.Ordinal);
        foreach (var entry in await endpointsTask)
        {
            endpoints[entry.Name!] = EndpointConfig.Parser.ParseFrom((byte[])entry.Value!);
        }

        var updated = entries.FirstOrDefault(e => e.Name == ChannelFields.UpdatedMs).Value;
        return new Snapshot(config, updated, endpoints);
    }

    private (ChannelConfig Config, List<EndpointConfig> Endpoints, string Token) PlanCreate(
        string channel, ChannelSettings? settings, IReadOnlyList<EndpointConfig> requested, string givenToken)
    {
        if (requested.Count == 0)
        {
            throw ChannelException.Invalid("endpoints: at least one endpoint is required to create a channel");
        }

        ChannelValidation.Endpoints("endpoints", requested);
        var endpoints = requested.Select((e, i) => EndpointSecrets.ForStorage($"endpoints[{i}]", e, null)).ToList();
        if (givenToken.Length > 0)
        {
            ChannelValidation.Token("token", givenToken);
        }

        var now = Now();
        var token = givenToken.Length > 0 ? givenToken : ChannelTokens.Generate();
        var defaults = new ChannelConfig
        {
            Name = channel,
            CreatedAt = now,
            UpdatedAt = now,
            TokenIssuedAt = now,
            TokenHash = ChannelTokens.Hash(token),
            MaxQueueBytes = options.Value.DefaultMaxQueueBytes,
        };
        return (ChannelValidation.ApplySettings(defaults, settings), endpoints, token);
    }

    private UpdatePlan PlanUpdate(Snapshot snapshot, ApplyChannelRequest request, TimeSpan grace)
    {
        var after = ChannelValidation.ApplySettings(snapshot.Config, request.Settings);
        var upserts = new List<EndpointConfig>();
        var newUrls = new List<(string Path, string Field)>();
        for (var i = 0; i < request.Endpoints.Count; i++)
        {
            var field = EndpointSecrets.Field(request.Endpoints[i]);
            snapshot.Endpoints.TryGetValue(field, out var current);
            var stored = EndpointSecrets.ForStorage($"endpoints[{i}]", request.Endpoints[i], current);
            if (current is null)
            {
                newUrls.Add(($"endpoints[{i}]", field));
            }

            if (!stored.Equals(current))
            {
                upserts.Add(stored);
            }
        }

        var rotated = false;
        if (request.Token.Length > 0)
        {
            var hash = ChannelTokens.Hash(request.Token);
            if (hash != after.TokenHash)
            {
                after = Rotated(after, hash, grace, Now());
                rotated = true;
            }
        }

        return new UpdatePlan(after, upserts, newUrls, rotated);
    }

    private static ChannelConfig Rotated(ChannelConfig config, string newHash, TimeSpan grace, DateTimeOffset now) =>
        // Only one previous token: whatever was previous before is revoked at once (admin.proto RotateToken).
        config with
        {
            TokenHash = newHash,
            TokenIssuedAt = now,
            PreviousTokenHash = grace > TimeSpan.Zero ? config.TokenHash : "",
            PreviousTokenExpiresAt = grace > TimeSpan.Zero ? now + grace : null,
        };

    private async Task CreateCoreAsync(ChannelConfig config, IReadOnlyList<EndpointConfig> endpoints)
    {
        var keys = new ChannelKeys(config.Name);
        if (await Db.KeyExistsAsync(keys.Config))
        {
            throw AlreadyExists(config.Name);
        }

        var fresh = await ClaimAsync(config.Name, endpoints.Select((e, i) => ($"endpoints[{i}]", EndpointSecrets.Field(e))));
        bool committed;
        try
        {
            var tx = Db.CreateTransaction();
            tx.AddCondition(Condition.KeyNotExists(keys.Config));
            _ = tx.KeyDeleteAsync(keys.Endpoints);
            _ = tx.HashSetAsync(keys.Config, ChannelMapping.ToHash(config));
            _ = tx.HashSetAsync(keys.Endpoints, endpoints.Select(ToEntry).ToArray());
            committed = await tx.ExecuteAsync();
        }
        catch
        {
            await ReleaseQuietlyAsync(config.Name, fresh);
            throw;
        }

        if (!committed)
        {
            await ReleaseQuietlyAsync(config.Name, fresh);
            throw AlreadyExists(config.Name);
        }

        await ReassertClaimsAsync(config.Name, endpoints);
        await Db.SortedSetAddAsync(GlobalKeys.Channels, config.Name, 0);
        await Db.StringIncrementAsync(GlobalKeys.EndpointRevision);
        await PublishAsync(ClusterEvent.EndpointsChanged());
    }

    /// <summary>
    /// After a commit, makes sure every endpoint the channel now lists is routed to it. A concurrent writer's
    /// failed commit can release a claim in the instant between another writer's read and commit (the claim looked
    /// like the channel's own, so nobody re-claimed it); this puts it back. Also heals an index entry lost earlier,
    /// whenever the endpoint is applied again.
    /// </summary>
    private async Task ReassertClaimsAsync(string channel, IEnumerable<EndpointConfig> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            var field = EndpointSecrets.Field(endpoint);
            if (await Db.HashSetAsync(GlobalKeys.EndpointIndex, field, channel, When.NotExists))
            {
                LogClaimRestored(logger, channel, field);
                continue;
            }

            var holder = (string?)await Db.HashGetAsync(GlobalKeys.EndpointIndex, field);
            if (holder is not null && holder != channel)
            {
                // Only reachable if the index entry was missing long enough for another channel to take the URL.
                LogClaimConflict(logger, channel, field, holder);
            }
        }
    }

    /// <summary>Runs a read-modify-write until its commit is not overtaken by another writer (null = overtaken).</summary>
    private async Task<ChannelInfo> MutateAsync(string channel, Func<Snapshot, Task<object?>> attempt)
    {
        for (var i = 0; i < MaxAttempts; i++)
        {
            var snapshot = await ReadAsync(channel) ?? throw ChannelException.ChannelNotFound(channel);
            switch (await attempt(snapshot))
            {
                case ChannelInfo info:
                    return info;
                case Snapshot committed:
                    return committed.ToInfo(Now());
            }
        }

        throw Contended(channel);
    }

    private async Task<object?> CommitAndNotifyAsync(Snapshot snapshot, ChannelConfig after)
    {
        var committed = await CommitAsync(snapshot, after, [], []);
        if (committed is not null)
        {
            await NotifyAsync(snapshot, committed);
        }

        return committed;
    }

    /// <summary>Claims new URLs in the endpoint index, commits, and gives the claims back when the commit fails.</summary>
    private async Task<Snapshot?> CommitWithClaimsAsync(
        Snapshot snapshot, ChannelConfig after, IReadOnlyList<(string Path, string Field)> newUrls, IReadOnlyList<EndpointConfig> upserts)
    {
        var fresh = await ClaimAsync(snapshot.Config.Name, newUrls);
        Snapshot? committed;
        try
        {
            committed = await CommitAsync(snapshot, after, upserts, []);
        }
        catch
        {
            await ReleaseQuietlyAsync(snapshot.Config.Name, fresh);
            throw;
        }

        if (committed is null)
        {
            await ReleaseQuietlyAsync(snapshot.Config.Name, fresh);
        }
        else
        {
            await ReassertClaimsAsync(snapshot.Config.Name, upserts);
        }

        return committed;
    }

    /// <summary>
    /// Writes the whole config and the endpoint changes in one EXEC, only if nobody changed the channel since
    /// <paramref name="before"/> was read. Returns the new snapshot, or null when overtaken (the caller retries).
    /// </summary>
    private async Task<Snapshot?> CommitAsync(Snapshot before, ChannelConfig after, IReadOnlyList<EndpointConfig> upserts, IReadOnlyList<string> removals)
    {
        var keys = new ChannelKeys(before.Config.Name);
        after = after with { UpdatedAt = NextUpdate(before.Config.UpdatedAt) };
        var tx = Db.CreateTransaction();
        tx.AddCondition(Condition.HashEqual(keys.Config, ChannelFields.UpdatedMs, before.UpdatedRaw));
        _ = tx.HashSetAsync(keys.Config, ChannelMapping.ToHash(after));
        if (after.PreviousTokenExpiresAt is null)
        {
            _ = tx.HashDeleteAsync(keys.Config, [ChannelFields.PreviousTokenHash, ChannelFields.PreviousTokenExpiresMs]);
        }

        if (upserts.Count > 0)
        {
            _ = tx.HashSetAsync(keys.Endpoints, upserts.Select(ToEntry).ToArray());
        }

        if (removals.Count > 0)
        {
            _ = tx.HashDeleteAsync(keys.Endpoints, removals.Select(r => (RedisValue)r).ToArray());
        }

        if (!await tx.ExecuteAsync())
        {
            return null;
        }

        var endpoints = new SortedDictionary<string, EndpointConfig>(before.Endpoints, StringComparer.Ordinal);
        foreach (var endpoint in upserts)
        {
            endpoints[EndpointSecrets.Field(endpoint)] = endpoint;
        }

        foreach (var removed in removals)
        {
            endpoints.Remove(removed);
        }

        return new Snapshot(after, after.UpdatedAt.ToUnixTimeMilliseconds(), endpoints);
    }

    /// <summary>
    /// The next <c>updated_ms</c>: now, but always after the previous value, so that it is also a version number
    /// that changes on every write (even two writes in one millisecond or on replicas with skewed clocks).
    /// </summary>
    private DateTimeOffset NextUpdate(DateTimeOffset previous)
    {
        var now = Now();
        return now > previous ? now : previous.AddMilliseconds(1);
    }

    private async Task NotifyAsync(Snapshot before, Snapshot after)
    {
        var settingsChanged = before.Config with { UpdatedAt = after.Config.UpdatedAt } != after.Config;
        var routesChanged = before.Config.MaxMessageBytes != after.Config.MaxMessageBytes
            || !before.Endpoints.Keys.SequenceEqual(after.Endpoints.Keys)
            || before.Endpoints.Any(e => !e.Value.Equals(after.Endpoints[e.Key]));
        if (routesChanged)
        {
            // Routes carry max_message_bytes, so a change of it is an endpoint table change too.
            await Db.StringIncrementAsync(GlobalKeys.EndpointRevision);
            await PublishAsync(ClusterEvent.EndpointsChanged());
        }

        if (settingsChanged)
        {
            await PublishAsync(ClusterEvent.ChannelChanged(after.Config.Name));
        }
    }

    /// <summary>
    /// Claims URLs for <paramref name="channel"/> with HSETNX. An entry already pointing at this channel counts as
    /// its own (a concurrent writer of the same channel, or a claim left by an interrupted call) but is not
    /// returned, so a failing caller never releases what it did not claim. On a conflict every fresh claim is
    /// released and ALREADY_EXISTS names the holder.
    /// </summary>
    private async Task<List<string>> ClaimAsync(string channel, IEnumerable<(string Path, string Field)> urls)
    {
        var fresh = new List<string>();
        try
        {
            foreach (var (path, field) in urls)
            {
                while (true)
                {
                    if (await Db.HashSetAsync(GlobalKeys.EndpointIndex, field, channel, When.NotExists))
                    {
                        fresh.Add(field);
                        break;
                    }

                    var holder = (string?)await Db.HashGetAsync(GlobalKeys.EndpointIndex, field);
                    if (holder == channel)
                    {
                        break;
                    }

                    if (holder is not null)
                    {
                        throw UrlTaken(path, field, holder);
                    }

                    // Released between our HSETNX and HGET: try again.
                }
            }
        }
        catch
        {
            await ReleaseQuietlyAsync(channel, fresh);
            throw;
        }

        return fresh;
    }

    /// <summary>For validate_only: the same ALREADY_EXISTS a real call would give, without claiming anything.</summary>
    private async Task EnsureUrlsFreeAsync(string channel, IEnumerable<(string Path, string Field)> urls)
    {
        foreach (var (path, field) in urls)
        {
            var holder = (string?)await Db.HashGetAsync(GlobalKeys.EndpointIndex, field);
            if (holder is not null && holder != channel)
            {
                throw UrlTaken(path, field, holder);
            }
        }
    }

    /// <summary>
    /// Removes index entries of <paramref name="channel"/>, unless the channel lists the endpoint again (a
    /// concurrent writer stored it): compare-and-delete, so another channel's entry is never touched.
    /// </summary>
    private async Task ReleaseAsync(string channel, IEnumerable<string> fields)
    {
        var keys = new ChannelKeys(channel);
        foreach (var field in fields)
        {
            if (await Db.HashExistsAsync(keys.Endpoints, field))
            {
                continue;
            }

            var tx = Db.CreateTransaction();
            tx.AddCondition(Condition.HashEqual(GlobalKeys.EndpointIndex, field, channel));
            _ = tx.HashDeleteAsync(GlobalKeys.EndpointIndex, field);
            if (await tx.ExecuteAsync() && await Db.HashExistsAsync(keys.Endpoints, field))
            {
                // A concurrent writer of the channel committed the endpoint between the check above and the delete
                // (the two keys are in different slots, so one transaction cannot cover both): put the route back.
                // With ReassertClaimsAsync after every commit, whichever runs last leaves the route in place.
                await Db.HashSetAsync(GlobalKeys.EndpointIndex, field, channel, When.NotExists);
            }
        }
    }

    private async Task ReleaseQuietlyAsync(string channel, IReadOnlyList<string> fields)
    {
        if (fields.Count == 0)
        {
            return;
        }

        try
        {
            await ReleaseAsync(channel, fields);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The original failure is what the caller must see; the leftover claim is invisible as a route and
            // is healed when this channel claims the URL again (see the class comment).
            LogReleaseFailed(logger, ex, channel, fields.Count);
        }
    }

    private async Task<bool> ChannelExistsAsync(string channel) => await Db.KeyExistsAsync(new ChannelKeys(channel).Config);

    private async Task PublishAsync(ClusterEvent clusterEvent)
    {
        try
        {
            await events.PublishAsync(clusterEvent);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Events are hints (ClusterEvents): the change is committed, and watchers also poll the revision.
            LogPublishFailed(logger, ex, clusterEvent.Kind);
        }
    }

    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());

    private static HashEntry ToEntry(EndpointConfig endpoint) => new(EndpointSecrets.Field(endpoint), endpoint.ToByteArray());

    private static string EncodePageToken(string lastName) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(PageTokenPrefix + lastName)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string? DecodePageToken(string token)
    {
        if (token.Length == 0)
        {
            return null;
        }

        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=')));
            if (text.StartsWith(PageTokenPrefix, StringComparison.Ordinal) && ChannelValidation.IsValidName(text[PageTokenPrefix.Length..]))
            {
                return text[PageTokenPrefix.Length..];
            }
        }
        catch (FormatException)
        {
        }

        throw ChannelException.Invalid($"page_token = \"{(token.Length > 80 ? token[..80] + "…" : token)}\": not a token from a previous ListChannels response");
    }

    private static ChannelException AlreadyExists(string channel) =>
        new(ChannelFailure.AlreadyExists, $"channel '{channel}' already exists");

    private static ChannelException UrlTaken(string path, string field, string holder) =>
        new(ChannelFailure.AlreadyExists, $"{path} = \"{field}\": this endpoint URL is already used by channel '{holder}'");

    private static ChannelException Contended(string channel) =>
        new(ChannelFailure.Contended, $"channel '{channel}' kept changing concurrently; retry the call");

    private static string LoadScript(string name)
    {
        using var stream = typeof(ChannelStore).Assembly.GetManifestResourceStream("WebhookConnect.QueueManager.Channels." + name)
            ?? throw new InvalidOperationException($"Embedded script {name} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Channel {Channel} created with {EndpointCount} endpoint(s)")]
    private static partial void LogCreated(ILogger logger, string channel, int endpointCount);

    [LoggerMessage(Level = LogLevel.Information, Message = "Channel {Channel} deleted with {EndpointCount} endpoint(s)")]
    private static partial void LogDeleted(ILogger logger, string channel, int endpointCount);

    [LoggerMessage(Level = LogLevel.Information, Message = "Channel {Channel}: endpoint {Endpoint} added")]
    private static partial void LogEndpointAdded(ILogger logger, string channel, string endpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Channel {Channel}: endpoint {Endpoint} removed")]
    private static partial void LogEndpointRemoved(ILogger logger, string channel, string endpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Channel {Channel}: token rotated, previous token valid for {GraceSeconds} s")]
    private static partial void LogTokenRotated(ILogger logger, string channel, long graceSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Channel {Channel}: could not release {Count} endpoint claim(s) after a failed change")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, string channel, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Channel {Channel}: endpoint {Endpoint} had lost its route after a concurrent change; restored")]
    private static partial void LogClaimRestored(ILogger logger, string channel, string endpoint);

    [LoggerMessage(Level = LogLevel.Error, Message = "Channel {Channel} lists endpoint {Endpoint}, but its URL is routed to channel {Holder}; remove it from one of them")]
    private static partial void LogClaimConflict(ILogger logger, string channel, string endpoint, string holder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish the cluster event {Kind}; watchers catch up from the revision")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, ClusterEventKind kind);

    /// <summary>A channel as read in one MULTI, with the raw <c>updated_ms</c> its commit is conditioned on.</summary>
    internal sealed record Snapshot(ChannelConfig Config, RedisValue UpdatedRaw, SortedDictionary<string, EndpointConfig> Endpoints)
    {
        public ChannelInfo ToInfo(DateTimeOffset now) => ChannelMapping.ToInfo(Config, Endpoints.Values, now);
    }

    private sealed record UpdatePlan(ChannelConfig After, List<EndpointConfig> Upserts, List<(string Path, string Field)> NewUrls, bool TokenRotated)
    {
        /// <summary>The answer for <paramref name="config"/> and <paramref name="endpoints"/> with this plan's
        /// endpoint upserts laid over them (the stored result, or what validate_only would have stored).</summary>
        public ApplyChannelResponse Response(ChannelConfig config, SortedDictionary<string, EndpointConfig> endpoints, DateTimeOffset now)
        {
            var merged = new SortedDictionary<string, EndpointConfig>(endpoints, StringComparer.Ordinal);
            foreach (var endpoint in Upserts)
            {
                merged[EndpointSecrets.Field(endpoint)] = endpoint;
            }

            return new ApplyChannelResponse
            {
                Channel = ChannelMapping.ToInfo(config, merged.Values, now),
                Created = false,
                TokenRotated = TokenRotated,
            };
        }
    }
}

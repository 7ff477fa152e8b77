using System.Collections.Frozen;
using Grpc.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Publishing;

namespace WebhookConnect.Ingress.Endpoints;

/// <summary>
/// The endpoint table, fed by queue-manager's WatchEndpoints stream (publish.proto): a <c>reset</c> replaces it, a
/// delta upserts and removes. A stream that fails or stays silent for 45 s is reopened with exponential backoff
/// (0.2 s doubling to 5 s); the last table keeps serving meanwhile. Until the first table arrives, <c>/readyz</c>
/// fails and webhooks get 503.
/// </summary>
public sealed partial class EndpointCache(QueueManagerClient queue, ILogger<EndpointCache> logger) : BackgroundService, IHealthCheck
{
    private static readonly TimeSpan Silence = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private volatile FrozenDictionary<(string Namespace, string Id), CachedEndpoint>? _table;
    private long _revision;

    public bool IsLoaded => _table is not null;

    public ulong Revision => (ulong)Interlocked.Read(ref _revision);

    public CachedEndpoint? Find(string ns, string id) =>
        _table is { } table && table.TryGetValue((ns, id), out var endpoint) ? endpoint : null;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(IsLoaded
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("no endpoint table from the queue-manager yet"));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = FirstBackoff;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await WatchOnceAsync(() => backoff = FirstBackoff, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogWatchFailed(logger, ex.GetType().Name, ex is RpcException rpc ? rpc.Status.ToString() : ex.Message, backoff.TotalMilliseconds);
            }

            try
            {
                await Task.Delay(backoff, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
        }
    }

    private async Task WatchOnceAsync(Action healthy, CancellationToken stoppingToken)
    {
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        silence.CancelAfter(Silence);
        using var call = queue.Client.WatchEndpoints(new WatchEndpointsRequest(), queue.Streaming(silence.Token));
        while (await call.ResponseStream.MoveNext(silence.Token))
        {
            silence.CancelAfter(Silence);
            healthy();
            Apply(call.ResponseStream.Current);
        }

        throw new RpcException(new Status(StatusCode.Unavailable, "the WatchEndpoints stream ended"));
    }

    internal void Apply(WatchEndpointsResponse update)
    {
        var current = _table;
        if (!update.Reset && update.Upserted.Count == 0 && update.Removed.Count == 0)
        {
            return; // A heartbeat.
        }

        var next = new Dictionary<(string, string), CachedEndpoint>();
        if (!update.Reset && current is not null)
        {
            foreach (var (key, value) in current)
            {
                next[key] = value;
            }
        }

        foreach (var removed in update.Removed)
        {
            next.Remove((removed.Namespace, removed.EndpointId));
        }

        foreach (var route in update.Upserted)
        {
            var key = (route.Endpoint.Namespace, route.Endpoint.Id);
            CachedEndpoint? previous = null;
            current?.TryGetValue(key, out previous);
            next[key] = new CachedEndpoint(route, previous);
        }

        _table = next.ToFrozenDictionary();
        Interlocked.Exchange(ref _revision, (long)update.Revision);
        if (current is null || update.Reset)
        {
            LogTable(logger, next.Count, update.Revision);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "endpoint table feed from the queue-manager failed ({Error}: {Detail}); keeping the cached table, retrying in {DelayMs} ms")]
    private static partial void LogWatchFailed(ILogger logger, string error, string detail, double delayMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "endpoint table loaded: {Count} endpoints at revision {Revision}")]
    private static partial void LogTable(ILogger logger, int count, ulong revision);
}

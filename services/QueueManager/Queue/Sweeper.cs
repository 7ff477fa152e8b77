using Microsoft.Extensions.Options;
using WebhookConnect.QueueManager.Streams;

namespace WebhookConnect.QueueManager.Queue;

/// <summary>
/// Every <c>SweepInterval</c>, sweeps every channel: expired leases, due retries, TTL, housekeeping (sweep.lua).
/// Every replica runs it; a per-channel lock in Redis lets one of them do the work each period, so the work
/// continues as long as any replica is alive and nothing depends on one replica's memory.
/// </summary>
public sealed partial class Sweeper(MessageQueue queue, ReplicaIdentity replica, IOptions<QueueManagerOptions> options, ILogger<Sweeper> logger)
    : BackgroundService
{
    private static readonly TimeSpan ChannelListRefresh = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.SweepInterval;
        var lockFor = interval * 0.9;
        string[] channels = [];
        var listedAt = DateTimeOffset.MinValue;
        var failing = false;
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    if (DateTimeOffset.UtcNow - listedAt >= ChannelListRefresh)
                    {
                        channels = await queue.ChannelNamesAsync();
                        listedAt = DateTimeOffset.UtcNow;
                    }

                    foreach (var channel in channels)
                    {
                        try
                        {
                            // A backlog of work larger than one batch is worked off at once, a bounded number of rounds.
                            for (var round = 0; round < 20 && await queue.SweepAsync(channel, replica.Id, lockFor); round++)
                            {
                            }
                        }
                        catch (Exception ex) when (!Errors.IsRedisFailure(ex) && ex is not OperationCanceledException)
                        {
                            // One channel's failure (a script error on unexpected data) must not stop the sweeping of
                            // the others, nor the process.
                            LogChannelFailed(logger, ex, channel);
                        }
                    }

                    if (failing)
                    {
                        failing = false;
                        LogRecovered(logger);
                    }
                }
                catch (Exception ex) when (Errors.IsRedisFailure(ex))
                {
                    if (!failing)
                    {
                        failing = true;
                        LogFailed(logger, ex.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweeping failed, Redis unreachable: {Reason}; retrying every sweep interval")]
    private static partial void LogFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sweeping channel {Channel} failed; the other channels continue")]
    private static partial void LogChannelFailed(ILogger logger, Exception exception, string channel);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sweeping resumed: Redis reachable again")]
    private static partial void LogRecovered(ILogger logger);
}

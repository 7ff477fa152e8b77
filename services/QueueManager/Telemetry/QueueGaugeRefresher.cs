using WebhookConnect.QueueManager.Admin;
using WebhookConnect.QueueManager.Queue;

namespace WebhookConnect.QueueManager.Telemetry;

/// <summary>Reads every channel's gauges from Redis every few seconds for <c>webhookconnect_queue_messages</c>
/// (an observable gauge's callback must not do I/O).</summary>
public sealed partial class QueueGaugeRefresher(MessageQueue queue, QueueQueries queries, QueueMetrics metrics, ILogger<QueueGaugeRefresher> logger) : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every);
        try
        {
            do
            {
                try
                {
                    var names = await queue.ChannelNamesAsync();
                    foreach (var name in names)
                    {
                        if (await queries.TryGetStatsAsync(name) is { } stats)
                        {
                            metrics.SetQueue(name, new QueueGauges(stats.MessagesQueued, stats.MessagesInFlight, stats.MessagesDelayed, stats.DeadLetters));
                        }
                    }

                    metrics.ForgetQueuesExcept(names.ToHashSet(StringComparer.Ordinal));
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Gauges are best effort; a failure here must never stop the host.
                    LogFailed(logger, ex.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Queue gauges not refreshed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}

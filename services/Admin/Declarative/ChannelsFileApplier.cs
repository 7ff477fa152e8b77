using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.Admin.V1;
using QueueAdminClient = WebhookConnect.Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient;

namespace WebhookConnect.Admin.Declarative;

/// <summary>
/// Applies <c>Admin:ChannelsFile</c> at start-up (retrying while the queue-manager is unreachable) and again whenever
/// the file changes (checked every few seconds, so a re-mounted ConfigMap works). Create or update only: channels
/// and endpoints the file does not mention are never deleted. Safe from several admin replicas at once (ApplyChannel
/// is idempotent).
/// </summary>
public sealed partial class ChannelsFileApplier(QueueAdminClient queue, IOptions<AdminOptions> options, ILogger<ChannelsFileApplier> logger) : BackgroundService
{
    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(2);
    private readonly AdminOptions _options = options.Value;
    private readonly string _internalToken = options.Value.EffectiveQueueManagerToken();

    /// <summary>
    /// True once a version of the file has been applied completely. A later change that is invalid, or still being
    /// applied, does not take the replica out of service: what was applied before stays in place.
    /// </summary>
    public bool Applied { get; private set; }

    /// <summary>Why the file's newest version was not applied (invalid, or refused by the queue-manager); null when it was.</summary>
    public string? Problem { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var path = _options.ChannelsFile;
        if (path.Length == 0)
        {
            Applied = true;
            return;
        }

        string? appliedVersion = null;
        var retry = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            var version = Version(path);
            if (version != appliedVersion)
            {
                var channel = "";
                try
                {
                    var requests = ChannelsFile.Load(path, Environment.GetEnvironmentVariable, SubstitutionPolicy.From(_options));
                    foreach (var request in requests)
                    {
                        channel = request.Channel;
                        var response = await queue.ApplyChannelAsync(request, Headers(), DateTime.UtcNow.AddSeconds(30), stoppingToken);
                        LogApplied(logger, request.Channel, response.Created ? "created" : "updated", response.TokenRotated);
                    }

                    appliedVersion = version;
                    Applied = true;
                    Problem = null;
                    retry = TimeSpan.FromSeconds(1);
                }
                catch (ChannelsFileException ex)
                {
                    // Only on a change while running: at start-up the options validation already refused the file.
                    // Retrying cannot help until the file changes again; what was applied before stays.
                    Problem = ex.Message;
                    LogInvalid(logger, path, ex.Message);
                    appliedVersion = version;
                }
                catch (RpcException ex) when (ex.StatusCode is StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.AlreadyExists)
                {
                    // The queue-manager refused an entry (for example an endpoint URL another channel owns): permanent
                    // for this version of the file. Entries before it were applied; ApplyChannel is idempotent.
                    Problem = $"channel '{channel}': {ex.Status.Detail}";
                    LogInvalid(logger, path, Problem);
                    appliedVersion = version;
                }
                catch (RpcException ex)
                {
                    LogFailed(logger, path, ex.StatusCode, ex.Status.Detail, retry.TotalSeconds);
                    await Task.Delay(retry, stoppingToken);
                    retry = TimeSpan.FromSeconds(Math.Min(30, retry.TotalSeconds * 2));
                    continue;
                }
            }

            await Task.Delay(CheckEvery, stoppingToken);
        }
    }

    private Metadata Headers() =>
        _internalToken.Length > 0 ? new Metadata { { "authorization", "Bearer " + _internalToken } } : [];

    private static string? Version(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? $"{info.LastWriteTimeUtc.Ticks}:{info.Length}" : null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Channels file: channel {Channel} {What} (token rotated: {TokenRotated})")]
    private static partial void LogApplied(ILogger logger, string channel, string what, bool tokenRotated);

    [LoggerMessage(Level = LogLevel.Error, Message = "Channels file {Path} is invalid and was not applied: {Reason}")]
    private static partial void LogInvalid(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Channels file {Path} not applied yet: {Code} {Detail}; retrying in {Seconds} s")]
    private static partial void LogFailed(ILogger logger, string path, StatusCode code, string detail, double seconds);
}

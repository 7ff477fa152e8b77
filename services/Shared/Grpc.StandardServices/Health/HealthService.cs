using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.Hosting;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace WebhookConnect.Grpc.StandardServices.Health;

/// <summary>
/// grpc.health.v1.Health: a status per service name ("" is the whole server). Services report their own status
/// with <see cref="SetStatus"/>; <see cref="HealthLifecycle"/> marks everything SERVING at start and NOT_SERVING
/// when the host begins to stop.
/// </summary>
public sealed class HealthService : global::Grpc.Health.V1.Health.HealthBase
{
    private readonly ConcurrentDictionary<string, ServingStatus> _statuses = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Channel<ServingStatus>, string> _watchers = new();
    private readonly CancellationToken _stopping;

    public HealthService(IHostApplicationLifetime lifetime) => _stopping = lifetime.ApplicationStopping;

    /// <summary>Sets a service's status and tells every watcher of it.</summary>
    public void SetStatus(string service, ServingStatus status)
    {
        ArgumentNullException.ThrowIfNull(service);
        _statuses[service] = status;
        foreach (var (watcher, watched) in _watchers)
        {
            if (watched == service)
            {
                watcher.Writer.TryWrite(status);
            }
        }
    }

    /// <summary>Marks every known service NOT_SERVING (used on shutdown).</summary>
    public void SetAllNotServing()
    {
        foreach (var service in _statuses.Keys)
        {
            SetStatus(service, ServingStatus.NotServing);
        }
    }

    public ServingStatus? GetStatus(string service) => _statuses.TryGetValue(service, out var status) ? status : null;

    public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        if (!_statuses.TryGetValue(request.Service, out var status))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"Service '{request.Service}' is unknown to this server."));
        }

        return Task.FromResult(new HealthCheckResponse { Status = status });
    }

    public override async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        // Only the latest status matters to a watcher, so a slow one skips intermediate changes.
        var updates = Channel.CreateBounded<ServingStatus>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        _watchers[updates] = request.Service;
        try
        {
            updates.Writer.TryWrite(_statuses.TryGetValue(request.Service, out var current) ? current : ServingStatus.ServiceUnknown);
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _stopping);
            ServingStatus? last = null;
            while (true)
            {
                ServingStatus status;
                try
                {
                    status = await updates.Reader.ReadAsync(stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
                {
                    // The host is stopping: tell the watcher, then end the stream so shutdown is not held up by it.
                    if (last != ServingStatus.NotServing)
                    {
                        await responseStream.WriteAsync(new HealthCheckResponse { Status = ServingStatus.NotServing }).ConfigureAwait(false);
                    }

                    return;
                }

                if (status != last)
                {
                    await responseStream.WriteAsync(new HealthCheckResponse { Status = status }).ConfigureAwait(false);
                    last = status;
                }
            }
        }
        finally
        {
            _watchers.TryRemove(updates, out _);
        }
    }
}

/// <summary>Marks the server and every mapped service SERVING once the host has started, NOT_SERVING when it stops.</summary>
internal sealed class HealthLifecycle(HealthService health, IHostApplicationLifetime lifetime, WebhookConnect.Grpc.Server.GrpcServiceRegistry registry) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            health.SetStatus("", ServingStatus.Serving);
            foreach (var service in registry.Services)
            {
                if (health.GetStatus(service.Name) is null)
                {
                    health.SetStatus(service.Name, ServingStatus.Serving);
                }
            }
        });
        lifetime.ApplicationStopping.Register(health.SetAllNotServing);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

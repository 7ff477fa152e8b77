namespace WebhookConnect.QueueManager.Streams;

/// <summary>
/// A level-triggered wake-up for one waiter: <see cref="Set"/> before or during <see cref="WaitAsync"/> makes the
/// wait return, and a wait consumes it. Many setters, one waiter (the connection's delivery loop).
/// </summary>
public sealed class Pulse
{
    private readonly Lock _gate = new();
    private bool _pending;
    private TaskCompletionSource? _waiter;

    public void Set()
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            _pending = true;
            waiter = _waiter;
            _waiter = null;
        }

        waiter?.TrySetResult();
    }

    /// <summary>Waits for a <see cref="Set"/> or the timeout; returns true when set.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_gate)
        {
            if (_pending)
            {
                _pending = false;
                return true;
            }

            waiter = _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        try
        {
            await waiter.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            return false;
        }

        lock (_gate)
        {
            _pending = false;
        }

        return true;
    }
}

using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace WebhookConnect.TestKit;

/// <summary>
/// A process a test starts (a Node interop server, redis-server, a published service) with its output captured,
/// so that every failure can show what the process printed. Disposing it kills the whole process tree: a test
/// never leaves a server behind, even when it fails half-way.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    /// <summary>Signal numbers for <see cref="Signal"/> (Linux values).</summary>
    public const int SigInt = 2;

    /// <inheritdoc cref="SigInt"/>
    public const int SigKill = 9;

    /// <inheritdoc cref="SigInt"/>
    public const int SigTerm = 15;

    private const int Esrch = 3; // errno "no such process": it exited and was reaped meanwhile.

    private static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<string> _log = [];
    private readonly List<string> _lines = [];
    private readonly List<LineWaiter> _waiters = [];
    private readonly string _stdoutPrefix;
    private readonly string _stderrPrefix;
    private Task _exited = Task.CompletedTask;
    private bool _drained;
    private bool _disposed;

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        _stdoutPrefix = $"[{name}] ";
        _stderrPrefix = $"[{name}:err] ";
    }

    /// <summary>The name that prefixes this process's lines in <see cref="Output"/>.</summary>
    public string Name { get; }

    /// <summary>The operating-system process id.</summary>
    public int Id { get; private set; }

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code; throws <see cref="InvalidOperationException"/> while the process runs.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything printed so far, stdout lines as <c>[name] line</c> and stderr lines as <c>[name:err] line</c>, in arrival order.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return string.Join('\n', _log);
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/> with stdout and stderr captured.</summary>
    /// <param name="name">Prefix for captured lines and name in failure messages, e.g. "grpc-js-server".</param>
    /// <param name="fileName">The executable; a bare name is looked up on PATH.</param>
    /// <param name="args">Arguments, passed as-is (no shell quoting).</param>
    /// <param name="env">Variables to set on top of the test's environment; a null value removes the variable.</param>
    /// <param name="workingDirectory">The working directory; the test's current directory when null.</param>
    public static ChildProcess Start(
        string name,
        string fileName,
        IEnumerable<string> args,
        IReadOnlyDictionary<string, string?>? env = null,
        string? workingDirectory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        ArgumentNullException.ThrowIfNull(args);

        var startInfo = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? string.Empty,
        };
        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in env ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                startInfo.Environment.Remove(key);
            }
            else
            {
                startInfo.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = startInfo };
        var child = new ChildProcess(name, process);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data, child._stdoutPrefix);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, child._stderrPrefix);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            var commandLine = string.Join(' ', startInfo.ArgumentList.Prepend(fileName));
            throw new InvalidOperationException($"Could not start {name} ('{commandLine}'): {e.Message}", e);
        }

        child.Id = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        child._exited = child.MonitorExitAsync();
        return child;
    }

    /// <summary>
    /// Waits for a line (stdout or stderr, without the prefix) that satisfies <paramref name="match"/>; lines printed
    /// before the call count too, so a server's "ready" line cannot be missed.
    /// </summary>
    /// <returns>The first matching line.</returns>
    /// <exception cref="InvalidOperationException">The process exited without printing such a line; the message holds its output.</exception>
    /// <exception cref="TimeoutException">No such line within <paramref name="timeout"/>; the message holds the output.</exception>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(match);
        LineWaiter? waiter = null;
        lock (_gate)
        {
            foreach (var line in _lines)
            {
                if (match(line))
                {
                    return line;
                }
            }

            if (!_drained)
            {
                waiter = new LineWaiter(match);
                _waiters.Add(waiter);
            }
        }

        if (waiter is null)
        {
            throw ExitedWithoutLine();
        }

        try
        {
            return await waiter.Line.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} (pid {Id}) printed no matching line within {timeout}.{DescribeOutput()}");
        }
        finally
        {
            lock (_gate)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>Waits until the process has exited and its output is fully read, and returns the exit code.</summary>
    /// <exception cref="TimeoutException">Still running after <paramref name="timeout"/>; the message holds its output.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _exited.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} (pid {Id}) did not exit within {timeout}.{DescribeOutput()}");
        }

        return _process.ExitCode;
    }

    /// <summary>
    /// Polls <paramref name="condition"/> (e.g. a health probe) until it holds. Fails at once when the process exits,
    /// and when <paramref name="timeout"/> passes; both messages hold what the process printed, which is usually
    /// where the reason is.
    /// </summary>
    public async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? pollInterval = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        try
        {
            await Eventually.UntilAsync(
                async () => HasExited
                    ? throw new InvalidOperationException($"{Name} exited with {ExitCode} while waiting for {what}.{DescribeOutput()}")
                    : await condition().ConfigureAwait(false),
                timeout,
                what,
                pollInterval).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}.{DescribeOutput()}", e);
        }
    }

    /// <summary>Sends a Unix signal (<see cref="SigTerm"/>, <see cref="SigKill"/>, ...); a no-op once the process has exited.</summary>
    public void Signal(int signal)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            throw new PlatformNotSupportedException("Signals need a Unix-like OS; the project's machines run Linux.");
        }

        // After exit the pid may already belong to another process: never signal it.
        if (_process.HasExited)
        {
            return;
        }

        if (kill(Id, signal) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != Esrch)
            {
                throw new Win32Exception(errno, $"kill({Id}, {signal}) failed for {Name}");
            }
        }
    }

    /// <summary>Kills the process and its descendants if still running, and waits (bounded) for them to exit.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }

        try
        {
            // Bounded: a descendant that escaped the tree (setsid) could hold stdout open for ever, and disposal
            // runs in finally blocks, where throwing would hide the test's own failure.
            await _exited.WaitAsync(DisposeTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        _process.Dispose();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    private async Task MonitorExitAsync()
    {
        // With asynchronous reading, WaitForExitAsync also waits for the end of stdout and stderr, so once it
        // returns no line can still arrive: waiters that have not matched by now never will.
        await _process.WaitForExitAsync().ConfigureAwait(false);
        List<LineWaiter> pending;
        lock (_gate)
        {
            _drained = true;
            pending = [.. _waiters];
        }

        foreach (var waiter in pending)
        {
            waiter.Line.TrySetException(ExitedWithoutLine());
        }
    }

    private void OnLine(string? line, string prefix)
    {
        if (line is null)
        {
            return; // End of the stream; MonitorExitAsync handles the end of the process.
        }

        lock (_gate)
        {
            _lines.Add(line);
            _log.Add(prefix + line);
            foreach (var waiter in _waiters)
            {
                waiter.Offer(line);
            }
        }
    }

    private InvalidOperationException ExitedWithoutLine() =>
        new($"{Name} (pid {Id}) exited with code {_process.ExitCode} before printing a matching line.{DescribeOutput()}");

    private string DescribeOutput()
    {
        var output = Output;
        return output.Length == 0
            ? $"{Environment.NewLine}--- {Name} printed nothing ---"
            : $"{Environment.NewLine}--- output of {Name} ---{Environment.NewLine}{output}";
    }

    private sealed class LineWaiter(Func<string, bool> match)
    {
        // Completed from the output-reading thread while it holds the lock: continuations must not run inline.
        public TaskCompletionSource<string> Line { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Offer(string line)
        {
            if (Line.Task.IsCompleted)
            {
                return;
            }

            try
            {
                if (match(line))
                {
                    Line.TrySetResult(line);
                }
            }
            catch (Exception e)
            {
                // A throwing predicate fails its own wait, not the thread that reads the process's output.
                Line.TrySetException(e);
            }
        }
    }
}

using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace WebhookConnect.DevStack;

/// <summary>One child process of the stack, its output forwarded line by line with its name as prefix.</summary>
public sealed class StackProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);
    private readonly Process _process;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private StackProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public bool HasExited => _exited.Task.IsCompleted;

    public Task Exited => _exited.Task;

    public int ExitCode => _process.ExitCode;

    public static StackProcess Start(string name, string fileName, IEnumerable<string> arguments, Output output, string workingDirectory)
    {
        // setsid: a session of its own, so the terminal's Ctrl-C reaches only the dev stack, which then stops the
        // children in reverse start order (Redis last) instead of all of them at once.
        var info = new ProcessStartInfo("setsid")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // so a child never reads the terminal (Ctrl-C goes to the stack, which stops it)
            WorkingDirectory = workingDirectory,
        };
        info.ArgumentList.Add(fileName);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // Services print plain lines; the prefix says who.
        info.Environment["DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION"] = "false";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new StackProcess(name, process);
        process.OutputDataReceived += (_, e) => Forward(e.Data);
        process.ErrorDataReceived += (_, e) => Forward(e.Data);
        process.Exited += (_, _) => child._exited.TrySetResult();
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException($"could not start {name} ({fileName}): {ex.Message}", ex);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;

        void Forward(string? line)
        {
            if (line is not null)
            {
                output.Line(name, line);
            }
        }
    }

    /// <summary>SIGTERM, then up to <see cref="StopGrace"/> for a clean exit (services drain), then SIGKILL.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            _ = Kill(_process.Id, SigTerm);
            if (await Task.WhenAny(_exited.Task, Task.Delay(StopGrace)) != _exited.Task)
            {
                _process.Kill(entireProcessTree: true);
                await _exited.Task;
            }
        }

        await _process.WaitForExitAsync(); // the last output lines
        _process.Dispose();
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code for one syscall
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}

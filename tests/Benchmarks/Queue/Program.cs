// Queue benchmark (not a test): the queue-manager binary against a private redis-server. See BenchOptions.Usage
// or run with --help. Usage: dotnet run -c Release --project tests/Benchmarks/Queue -- [--messages 100000]
using System.Runtime.InteropServices;
using WebhookConnect.Benchmarks.Queue;

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"{ex.Message}\n\n{BenchOptions.Usage}");
    return 2;
}

if (options.Help)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

// Ctrl-C and SIGTERM cancel the run; the stack is then disposed, which stops redis-server and the queue-manager.
using var cancel = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    Console.Error.WriteLine("cancelling: stopping the queue-manager and redis-server …");
    cancel.Cancel();
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

try
{
    var report = await QueueBenchmark.RunAsync(options, cancel.Token);
    report.Print(Console.Out);
    return report.Failures.Count == 0 ? 0 : 1;
}
catch (Exception) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("cancelled");
    return 130;
}
catch (Exception ex)
{
    Console.Error.WriteLine($"benchmark failed: {ex}");
    return 1;
}

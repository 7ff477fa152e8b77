using System.Globalization;

namespace WebhookConnect.Benchmarks.Queue;

/// <summary>The benchmark's command line. Every count is bounded so a run always ends.</summary>
public sealed record BenchOptions
{
    public const string Usage = """
        Queue benchmark (not a test): starts a private redis-server (127.0.0.1, free port, no persistence) and the
        queue-manager binary, creates a channel, then measures and prints each figure beside a baseline measured
        against the same redis-server in the same run:

          a. publish rate   N messages (~1 KiB body) through unary Publish, C calls in flight
                            baselines: redis-benchmark XADD 1 KiB; redis-benchmark EVALSHA of the real publish.lua
          b. delivery rate  one Connect stream drains the N-message backlog, acking in batches as deliveries arrive;
                            the count is verified exact (== N, no duplicates, nothing left in Redis)
                            baseline: the real deliver.lua + ack.lua called directly (100 per call) on an equal backlog
          c. memory         M webhooks of 1 KiB POSTed through the ingress binary (h2load) to a paused channel, a
                            connector binary subscribed to it, the admin binary asked for its stats: the RSS of every
                            service (queue-manager, ingress, connector, admin) settled before, at its peak during and
                            settled with all M waiting, each "flat" or "NOT flat" (SPEC §13: ± 50 MiB; not flat fails
                            the run like any other check); Redis used_memory per waiting message and per envelope byte.
                            Lines "verdict <name> pass|FAIL key=value …" after the table are the machine-readable verdicts.

        Usage: dotnet run -c Release --project tests/Benchmarks/Queue -- [options]

          --messages N          messages for a. and b.                  (default 100000, 1000..1000000)
          --concurrency C       Publish calls in flight                 (default 64, 1..1024)
          --max-in-flight K     max_in_flight the connector asks for    (default 100, 1..10000)
          --backlog-memory M    backlog for c.                          (default 1000000, 1000..5000000)
          --skip-memory         skip c.
          --history-retention-ms R  the channels' history_retention (default: the channel default, 24 h;
                                0 turns the message history off, to measure its cost)
          --timeout SECONDS     limit for each phase                    (default 600)
          --help                this text

        Needs redis-server and redis-benchmark: sudo apt-get install -y redis-server redis-tools; for c. also h2load:
        sudo apt-get install -y nghttp2-client
        """;

    public int Messages { get; init; } = 100_000;

    public int Concurrency { get; init; } = 64;

    public int MaxInFlight { get; init; } = 100;

    public int BacklogMemory { get; init; } = 1_000_000;

    public bool SkipMemory { get; init; }

    /// <summary>history_retention of the benchmark's channels in ms; null: the channel default (history on).</summary>
    public int? HistoryRetentionMs { get; init; }

    public TimeSpan PhaseTimeout { get; init; } = TimeSpan.FromSeconds(600);

    public bool Help { get; init; }

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            options = args[i] switch
            {
                "--help" or "-h" => options with { Help = true },
                "--skip-memory" => options with { SkipMemory = true },
                "--history-retention-ms" => options with { HistoryRetentionMs = Number(args, ref i, 0, 86_400_000) },
                "--messages" => options with { Messages = Number(args, ref i, 1_000, 1_000_000) },
                "--concurrency" => options with { Concurrency = Number(args, ref i, 1, 1024) },
                "--max-in-flight" => options with { MaxInFlight = Number(args, ref i, 1, 10_000) },
                "--backlog-memory" => options with { BacklogMemory = Number(args, ref i, 1_000, 5_000_000) },
                "--timeout" => options with { PhaseTimeout = TimeSpan.FromSeconds(Number(args, ref i, 10, 3600)) },
                var other => throw new ArgumentException($"unknown argument '{other}'"),
            };
        }

        return options;
    }

    private static int Number(string[] args, ref int i, int min, int max)
    {
        var name = args[i];
        if (++i >= args.Length)
        {
            throw new ArgumentException($"{name}: a number is missing");
        }

        var text = args[i].Replace("_", "", StringComparison.Ordinal);
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} = '{args[i]}': must be a whole number from {min} to {max}");
    }
}

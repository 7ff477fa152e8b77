namespace WebhookConnect.DevStack;

/// <summary>
/// The one writer of the terminal: every process's lines with a fixed-width, coloured prefix, and the stack's own
/// messages. Lines from different processes never interleave mid-line.
/// </summary>
public sealed class Output
{
    private static readonly string[] Colours = ["\u001b[36m", "\u001b[33m", "\u001b[35m", "\u001b[32m", "\u001b[34m", "\u001b[31m", "\u001b[96m"];
    private readonly Lock _gate = new();
    private readonly bool _colour = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;
    private readonly Dictionary<string, string> _assigned = new(StringComparer.Ordinal);

    public void Line(string source, string line)
    {
        lock (_gate)
        {
            if (!_assigned.TryGetValue(source, out var colour))
            {
                colour = Colours[_assigned.Count % Colours.Length];
                _assigned[source] = colour;
            }

            var prefix = $"{source,-13}|";
            Console.Out.WriteLine(_colour ? $"{colour}{prefix}\u001b[0m {line}" : $"{prefix} {line}");
        }
    }

    /// <summary>A message of the dev stack itself.</summary>
    public void Stack(string line) => Line("devstack", line);

    /// <summary>A block printed as-is (the "try this" screen).</summary>
    public void Block(string text)
    {
        lock (_gate)
        {
            Console.Out.Write(text);
            Console.Out.Flush();
        }
    }
}

using System.Text.RegularExpressions;

namespace WebhookConnect.QueueManager.Channels;

/// <summary>The name rule of channels and endpoint ids (SPEC §3).</summary>
public static partial class ChannelNames
{
    public const string Rule = "^[a-z0-9][a-z0-9._-]{0,62}$";

    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    // \z, not $: "$" also matches before a final newline.
    [GeneratedRegex(@"^[a-z0-9][a-z0-9._-]{0,62}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}

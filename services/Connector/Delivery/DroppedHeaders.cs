namespace WebhookConnect.Connector.Delivery;

/// <summary>
/// The sender's headers the connector does not pass on to a target (issue 20, finding 10): credentials meant for the
/// relay or the sender's side (<c>Authorization</c>, <c>Cookie</c>), fields a target or its framework trusts to tell
/// where a request came from (<c>Forwarded</c>, <c>X-Forwarded-*</c>, <c>X-Real-IP</c>, <c>True-Client-IP</c>), and
/// fields that make frameworks route a request elsewhere than its method and path say (<c>X-HTTP-Method-Override</c>,
/// <c>X-HTTP-Method</c>, <c>X-Method-Override</c>, <c>X-Original-URL</c>, <c>X-Rewrite-URL</c>). A webhook's meaning
/// is its body and its signature headers; none of these belong to it, and any of them sent by whoever can reach the
/// public endpoint would otherwise arrive at a private target as if the network had set it.
/// </summary>
/// <remarks>
/// Entries are header names, matched without case, or a prefix ending in <c>*</c> (<c>X-Forwarded-*</c>). A handful
/// of names and prefixes, compared once per header: a hash set for names and a short list for prefixes is all the
/// matching there is, so no library is involved.
/// </remarks>
public sealed class DroppedHeaders
{
    /// <summary>The default list (<c>Connector:DropHeaders</c>).</summary>
    public const string Default =
        "Authorization, Cookie, Forwarded, X-Forwarded-*, X-Real-IP, True-Client-IP, " +
        "X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, X-Original-URL, X-Rewrite-URL";

    /// <summary>The value of <c>Connector:DropHeaders</c> that drops nothing.</summary>
    public const string None = "none";

    private readonly HashSet<string> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _prefixes = [];

    /// <summary>Builds the filter from the configured list and the entries added to it.</summary>
    public DroppedHeaders(string drop, string alsoDrop)
    {
        foreach (var entry in Entries(drop).Concat(Entries(alsoDrop)))
        {
            if (entry.EndsWith('*'))
            {
                _prefixes.Add(entry[..^1]);
            }
            else
            {
                _names.Add(entry);
            }
        }
    }

    /// <summary>The effective entries, for <c>--check</c> and logs.</summary>
    public IEnumerable<string> Describe() => _names.Order(StringComparer.OrdinalIgnoreCase).Concat(_prefixes.Select(p => p + "*"));

    public bool Drops(string name)
    {
        if (_names.Contains(name))
        {
            return true;
        }

        foreach (var prefix in _prefixes)
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The entries of a comma-separated list; <see cref="None"/> (or nothing) is the empty list.</summary>
    public static IEnumerable<string> Entries(string list) =>
        list.Trim().Equals(None, StringComparison.OrdinalIgnoreCase)
            ? []
            : list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Null when <paramref name="entry"/> is a header name (an RFC 9110 token) or such a name followed by
    /// <c>*</c>; otherwise why not.</summary>
    public static string? Problem(string entry)
    {
        var name = entry.EndsWith('*') ? entry[..^1] : entry;
        if (name.Length == 0)
        {
            return "a lone '*' would drop every header; list names or prefixes such as X-Forwarded-*";
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'+-.^_`|~".Contains(c, StringComparison.Ordinal)))
            {
                return $"'{entry}' is not a header name or a prefix ending in '*'";
            }
        }

        return null;
    }
}

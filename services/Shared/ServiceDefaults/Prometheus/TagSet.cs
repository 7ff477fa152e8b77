using System.Text;

namespace WebhookConnect.ServiceDefaults.Prometheus;

/// <summary>
/// One combination of tag values, stored once per series. Lookups on the recording path compare the caller's
/// tag span against it directly (see <see cref="TagSetComparer"/>), so a measurement for a known series
/// allocates nothing.
/// </summary>
internal sealed class TagSet
{
    public TagSet(ReadOnlySpan<KeyValuePair<string, object?>> tags, int hash)
    {
        var copy = tags.ToArray();
        // Sorted so the same tags in any order render the same labels.
        Array.Sort(copy, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        Tags = copy;
        Hash = hash;
        Labels = Render(copy);
    }

    public KeyValuePair<string, object?>[] Tags { get; }

    public int Hash { get; }

    /// <summary><c>code="200",endpoint="a\"b"</c>: without braces so histograms can append <c>le</c>.</summary>
    public string Labels { get; }

    private static string Render(KeyValuePair<string, object?>[] tags)
    {
        var sb = new StringBuilder();
        string? previous = null;
        foreach (var (key, value) in tags)
        {
            var name = PrometheusText.LabelName(key);
            if (name == previous)
            {
                continue; // A repeated label name is invalid exposition; the first one wins.
            }

            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(name).Append("=\"");
            PrometheusText.AppendLabelValue(sb, PrometheusText.TagValue(value));
            sb.Append('"');
            previous = name;
        }

        return sb.ToString();
    }
}

/// <summary>Order-insensitive equality between stored tag sets and the tag spans measurements arrive with.</summary>
internal sealed class TagSetComparer :
    IEqualityComparer<TagSet>,
    IAlternateEqualityComparer<ReadOnlySpan<KeyValuePair<string, object?>>, TagSet>
{
    public static TagSetComparer Instance { get; } = new();

    public bool Equals(TagSet? x, TagSet? y) =>
        ReferenceEquals(x, y) || (x is not null && y is not null && x.Hash == y.Hash && Equals(x.Tags.AsSpan(), y.Tags.AsSpan()));

    public int GetHashCode(TagSet obj) => obj.Hash;

    public bool Equals(ReadOnlySpan<KeyValuePair<string, object?>> alternate, TagSet other) => Equals(alternate, other.Tags.AsSpan());

    public int GetHashCode(ReadOnlySpan<KeyValuePair<string, object?>> alternate)
    {
        // A sum of per-tag hashes does not depend on the order tags were passed in.
        var hash = 0;
        foreach (var (key, value) in alternate)
        {
            hash = unchecked(hash + HashCode.Combine(key, value));
        }

        return hash;
    }

    public TagSet Create(ReadOnlySpan<KeyValuePair<string, object?>> alternate) => new(alternate, GetHashCode(alternate));

    private static bool Equals(ReadOnlySpan<KeyValuePair<string, object?>> left, ReadOnlySpan<KeyValuePair<string, object?>> right) =>
        left.Length == right.Length && ContainsAll(left, right) && ContainsAll(right, left);

    private static bool ContainsAll(ReadOnlySpan<KeyValuePair<string, object?>> wanted, ReadOnlySpan<KeyValuePair<string, object?>> pool)
    {
        // Tag sets are a handful of entries: a nested scan beats hashing or sorting here.
        foreach (var (key, value) in wanted)
        {
            var found = false;
            foreach (var candidate in pool)
            {
                if (string.Equals(candidate.Key, key, StringComparison.Ordinal) && object.Equals(candidate.Value, value))
                {
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                return false;
            }
        }

        return true;
    }
}

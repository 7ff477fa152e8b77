using System.Text.RegularExpressions;

namespace WebhookConnect.Charts.Tests.Support;

/// <summary>
/// Finds the values of a chart's values.yaml that no comment documents. A value is documented by a comment line right
/// above it (at its indentation), or above the run of one-line siblings it belongs to (<c># -- Pod scheduling.</c>
/// over <c>nodeSelector</c>, <c>tolerations</c>, <c>affinity</c>), or by the comment of its parent when that parent is
/// not a top-level section (<c>autoscaling</c> documents <c>minReplicas</c>). Only leaves are reported: a mapping
/// is documented through its values.
/// </summary>
/// <remarks>Hand-written over the text: YamlDotNet's parser drops comments, and the rule is about where they stand.</remarks>
public static partial class ValuesDocumentation
{
    /// <summary>Every undocumented leaf, as "line N: key: value".</summary>
    public static IReadOnlyList<string> Undocumented(string valuesFile)
    {
        var lines = File.ReadAllLines(valuesFile);
        var parents = new Stack<(int Indent, bool Documented)>();
        var undocumented = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var match = Key().Match(lines[i]);
            if (!match.Success)
            {
                continue;
            }

            var indent = match.Groups["indent"].Length;
            while (parents.Count > 0 && parents.Peek().Indent >= indent)
            {
                parents.Pop();
            }

            var documented = HasComment(lines, i, indent)
                || (parents.Count > 0 && parents.Peek().Indent > 0 && parents.Peek().Documented);
            parents.Push((indent, documented));
            var leaf = !lines[i].TrimEnd().EndsWith(':');
            if (leaf && !documented)
            {
                undocumented.Add($"line {i + 1}: {lines[i].Trim()}");
            }
        }

        return undocumented;
    }

    // A comment at the key's indentation right above it, or above the one-line siblings right above it.
    private static bool HasComment(string[] lines, int index, int indent)
    {
        for (var j = index - 1; j >= 0; j--)
        {
            var line = lines[j];
            var lineIndent = line.Length - line.TrimStart().Length;
            if (line.TrimStart().StartsWith('#') && lineIndent == indent)
            {
                return true;
            }

            var sibling = Key().Match(line);
            if (!(sibling.Success && sibling.Groups["indent"].Length == indent && !line.TrimEnd().EndsWith(':')))
            {
                return false;
            }
        }

        return false;
    }

    [GeneratedRegex("^(?<indent> *)[A-Za-z_][A-Za-z0-9_]*:")]
    private static partial Regex Key();
}

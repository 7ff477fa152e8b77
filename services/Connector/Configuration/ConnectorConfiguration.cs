using System.Collections;
using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace WebhookConnect.Connector.Configuration;

/// <summary>
/// The three configuration layers (SPEC §9: file &lt; environment &lt; flags), each a flat set of .NET configuration
/// keys, so a layer overrides exactly the keys it names and nothing else: a flag that sets the first subscription's
/// max_in_flight leaves its token and targets from the file alone.
/// </summary>
/// <remarks>
/// Every layer spells keys the same way after <see cref="Normalize"/>: path segments are matched without case and
/// without <c>_</c> or <c>-</c>, so the file's <c>queue_manager: {ca_file: …}</c>, the variable
/// <c>CONNECTOR__QUEUE_MANAGER__CA_FILE</c> (or <c>Connector__QueueManager__CaFile</c>) and the flag
/// <c>--set queue_manager:ca_file=…</c> all name <c>Connector:QueueManager:CaFile</c>. Segments under
/// <c>targets</c>, <c>headers</c> and <c>log_level</c> are names (endpoint ids, header names, log categories) and
/// are kept as written.
/// </remarks>
public static class ConnectorConfiguration
{
    /// <summary>The environment variable that may name the config file when <c>--config</c> is not given.</summary>
    public const string ConfigFileVariable = "CONNECTOR_CONFIG";

    /// <summary>Environment variables with this prefix (any case) are connector settings.</summary>
    public const string EnvironmentPrefix = "CONNECTOR__";

    private static readonly string[] NameSections = ["Targets", "Headers", "LogLevel"];

    /// <summary>Top-level keys of the file (and of <c>--set</c>) that are not connector settings but the shared ones.</summary>
    private static readonly string[] RootSections = ["Management", "Logging"];

    /// <summary>Turns any spelling of a setting path into its configuration key, e.g.
    /// <c>subscriptions:0:default_target:url</c> → <c>Connector:Subscriptions:0:DefaultTarget:Url</c>.</summary>
    public static string Normalize(string path)
    {
        var segments = path.Split(':');
        var keys = new List<string>(segments.Length + 1);
        for (var i = 0; i < segments.Length; i++)
        {
            var parent = i > 0 ? keys[^1] : null;
            var keepAsWritten = parent is not null && NameSections.Contains(parent, StringComparer.OrdinalIgnoreCase);
            var key = keepAsWritten ? segments[i] : Pascal(segments[i]);
            if (i == 0 && !RootSections.Contains(key, StringComparer.OrdinalIgnoreCase) && !key.Equals(ConnectorOptions.SectionName, StringComparison.OrdinalIgnoreCase))
            {
                keys.Add(ConnectorOptions.SectionName);
            }

            keys.Add(key);
        }

        return string.Join(':', keys);
    }

    /// <summary>Reads a YAML or JSON file (JSON is YAML) into configuration keys.</summary>
    /// <exception cref="ConfigFileException">The file is missing or not a YAML/JSON mapping; the message says where.</exception>
    public static Dictionary<string, string?> FromFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigFileException($"Invalid configuration: --config = '{path}': cannot read the file: {ex.Message}");
        }

        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw new ConfigFileException($"Invalid configuration: --config = '{path}': not valid YAML or JSON at line {ex.Start.Line}, column {ex.Start.Column}: {ex.InnerException?.Message ?? ex.Message}");
        }

        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (yaml.Documents.Count == 0)
        {
            return keys;
        }

        if (yaml.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new ConfigFileException($"Invalid configuration: --config = '{path}': the top level must be a mapping (queue_manager:, subscriptions:, …).");
        }

        Flatten(root, "", keys);
        return keys.ToDictionary(pair => Normalize(pair.Key), pair => pair.Value, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The connector's environment variables (<see cref="EnvironmentPrefix"/>) as configuration keys.</summary>
    public static Dictionary<string, string?> FromEnvironment(IDictionary variables)
    {
        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in variables)
        {
            if (entry.Key is string name && name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase) && name.Length > EnvironmentPrefix.Length)
            {
                keys[Normalize(ConnectorOptions.SectionName + ":" + name[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal))] = entry.Value as string;
            }
        }

        return keys;
    }

    private static void Flatten(YamlNode node, string path, Dictionary<string, string?> keys)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var (key, value) in mapping.Children)
                {
                    var name = ((YamlScalarNode)key).Value ?? "";
                    Flatten(value, path.Length == 0 ? name : path + ":" + name, keys);
                }

                break;
            case YamlSequenceNode sequence:
                for (var i = 0; i < sequence.Children.Count; i++)
                {
                    Flatten(sequence.Children[i], path + ":" + i.ToString(CultureInfo.InvariantCulture), keys);
                }

                break;
            case YamlScalarNode scalar:
                // An empty or null scalar means "not set": it must not override a default with "".
                if (!string.IsNullOrEmpty(scalar.Value) && !(scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is "~" or "null"))
                {
                    keys[path] = scalar.Value;
                }

                break;
        }
    }

    private static string Pascal(string segment)
    {
        if (segment.Length == 0 || char.IsDigit(segment[0]))
        {
            return segment;
        }

        var result = new System.Text.StringBuilder(segment.Length);
        var upper = true;
        foreach (var c in segment)
        {
            if (c is '_' or '-')
            {
                upper = true;
                continue;
            }

            result.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }

        return result.ToString();
    }
}

/// <summary>The config file cannot be used; the message is the one line printed before exit code 2.</summary>
public sealed class ConfigFileException(string message) : Exception(message);

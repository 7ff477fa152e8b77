using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using WebhookConnect.Contracts.Admin.V1;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace WebhookConnect.Admin.Declarative;

/// <summary>
/// The declarative channels file (SPEC §3): YAML or JSON, a list of channels applied at start-up and on change.
/// <code>
/// channels:
///   - name: orders
///     token_file: /run/secrets/orders-token     # or token_env: ORDERS_TOKEN (or token:, not recommended)
///     settings: { max_in_flight: 50, ack_timeout: 30s }
///     endpoints:
///       - id: stripe
///         verification: { stripe: { secret_env: STRIPE_SECRET } }
/// </code>
/// Settings and endpoints use the admin API's field names (protobuf JSON, snake_case). A secret field's key ending in
/// <c>_env</c> or <c>_file</c> is replaced by the environment variable's or the file's content under the key without
/// the suffix, so secrets never have to be written in the file; <see cref="SubstitutionPolicy"/> says which fields,
/// files and variables. <c>token_grace_period_seconds</c> sets how long a token replaced through the file stays valid.
/// Unknown fields are errors naming the entry and the field.
/// </summary>
public static partial class ChannelsFile
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);

    public static IReadOnlyList<ApplyChannelRequest> Load(string path, Func<string, string?> environment, SubstitutionPolicy policy)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException ex)
        {
            throw new ChannelsFileException($"cannot read it: {ex.Message}");
        }

        JsonNode? root;
        try
        {
            var yaml = new YamlStream();
            yaml.Load(new StringReader(text));
            root = yaml.Documents.Count == 0 ? null : ToJson(yaml.Documents[0].RootNode);
        }
        catch (YamlException ex)
        {
            throw new ChannelsFileException($"not valid YAML or JSON at line {ex.Start.Line}, column {ex.Start.Column}: {ex.InnerException?.Message ?? ex.Message}");
        }

        if (root is not JsonObject top || top["channels"] is not JsonArray channels)
        {
            throw new ChannelsFileException("expected a top-level 'channels:' list");
        }

        foreach (var key in top.Select(p => p.Key))
        {
            if (key != "channels")
            {
                throw new ChannelsFileException($"unknown top-level field '{key}' (only 'channels')");
            }
        }

        var requests = new List<ApplyChannelRequest>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < channels.Count; i++)
        {
            var where = $"channels[{i}]";
            if (channels[i] is not JsonObject entry)
            {
                throw new ChannelsFileException($"{where}: expected a mapping with name, settings, endpoints");
            }

            var request = new JsonObject();
            foreach (var (key, value) in entry.ToArray())
            {
                switch (key)
                {
                    case "name":
                        request["channel"] = value?.DeepClone();
                        break;
                    case "settings" or "endpoints" or "token" or "token_grace_period_seconds":
                        request[key] = value?.DeepClone();
                        break;
                    case "token_env" or "token_file":
                        break;
                    default:
                        throw new ChannelsFileException($"{where}: unknown field '{key}' (expected name, settings, endpoints, token_env, token_file, token or token_grace_period_seconds)");
                }
            }

            var name = request["channel"]?.GetValue<string>() ?? throw new ChannelsFileException($"{where}: 'name' is required");
            where = $"channels[{i}] ({name})";
            if (!names.Add(name))
            {
                throw new ChannelsFileException($"{where}: the channel is listed twice");
            }

            ResolveSecrets(entry, request, where, environment, policy);
            try
            {
                Durations(request, ApplyChannelRequest.Descriptor, where);
                requests.Add(Parser.Parse<ApplyChannelRequest>(request.ToJsonString()));
            }
            catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException)
            {
                throw new ChannelsFileException($"{where}: {ex.Message}");
            }
        }

        return requests;
    }

    /// <summary>
    /// Lets durations be written as people write them in YAML (<c>500ms</c>, <c>45s</c>, <c>30m</c>, <c>2h</c>,
    /// <c>7d</c>) by rewriting them to protobuf JSON's seconds form. Only fields whose type is
    /// <c>google.protobuf.Duration</c> are touched (found through the request's descriptor), so a secret or header
    /// that happens to look like "12h" stays as it is.
    /// </summary>
    private static void Durations(JsonObject node, MessageDescriptor descriptor, string where)
    {
        foreach (var (key, value) in node.ToArray())
        {
            var field = descriptor.FindFieldByName(key) ?? descriptor.Fields.InDeclarationOrder().FirstOrDefault(f => f.JsonName == key);
            if (field is null || field.FieldType != FieldType.Message || field.IsMap)
            {
                continue;
            }

            if (field.MessageType.FullName == Duration.Descriptor.FullName && value is JsonValue text && text.TryGetValue<string>(out var written))
            {
                node[key] = ToProtobufDuration(written, $"{where}: {key}");
            }
            else if (value is JsonObject child)
            {
                Durations(child, field.MessageType, where);
            }
            else if (value is JsonArray items)
            {
                foreach (var item in items.OfType<JsonObject>())
                {
                    Durations(item, field.MessageType, where);
                }
            }
        }
    }

    private static string ToProtobufDuration(string written, string what)
    {
        var match = DurationPattern().Match(written.Trim());
        if (!match.Success)
        {
            throw new ChannelsFileException($"{what} = '{written}' is not a duration (write e.g. 500ms, 45s, 30m, 2h or 7d)");
        }

        var amount = decimal.Parse(match.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        var seconds = match.Groups[2].Value switch
        {
            "ms" => amount / 1000,
            "m" => amount * 60,
            "h" => amount * 3600,
            "d" => amount * 86400,
            _ => amount,
        };
        return seconds.ToString("0.#########", CultureInfo.InvariantCulture) + "s";
    }

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$")]
    private static partial Regex DurationPattern();

    /// <summary>token_env / token_file on the entry, and <c>*_env</c> / <c>*_file</c> keys of secret fields below
    /// endpoints (see <see cref="SubstitutionPolicy"/>); any other such key is refused, naming the field.</summary>
    private static void ResolveSecrets(JsonObject entry, JsonObject request, string where, Func<string, string?> environment, SubstitutionPolicy policy)
    {
        if (entry["token_env"] is { } tokenEnv)
        {
            request["token"] = Read(tokenEnv.GetValue<string>(), isFile: false, $"{where}.token_env", environment, policy);
        }
        else if (entry["token_file"] is { } tokenFile)
        {
            request["token"] = Read(tokenFile.GetValue<string>(), isFile: true, $"{where}.token_file", environment, policy);
        }

        if (request["endpoints"] is JsonNode endpoints)
        {
            Substitute(endpoints, $"{where}.endpoints", inVerification: false, environment, policy);
        }
    }

    private static void Substitute(JsonNode node, string where, bool inVerification, Func<string, string?> environment, SubstitutionPolicy policy)
    {
        switch (node)
        {
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is { } item)
                    {
                        Substitute(item, $"{where}[{i}]", inVerification, environment, policy);
                    }
                }

                break;
            case JsonObject obj:
                foreach (var (key, value) in obj.ToArray())
                {
                    var isEnv = key.EndsWith("_env", StringComparison.Ordinal);
                    var isFile = key.EndsWith("_file", StringComparison.Ordinal);
                    if ((isEnv || isFile) && value is JsonValue reference)
                    {
                        var field = key[..key.LastIndexOf('_')];
                        if (!inVerification || !SubstitutionPolicy.SecretFields.Contains(field))
                        {
                            throw new ChannelsFileException($"{where}.{key}: '{field}' is not a secret field; *_env and *_file are allowed only for a channel's token and an endpoint's verification secret, token or password");
                        }

                        obj.Remove(key);
                        obj[field] = Read(reference.GetValue<string>(), isFile, $"{where}.{key}", environment, policy);
                    }
                    else if (value is not null)
                    {
                        Substitute(value, $"{where}.{key}", inVerification || key == "verification", environment, policy);
                    }
                }

                break;
        }
    }

    private static string Read(string reference, bool isFile, string where, Func<string, string?> environment, SubstitutionPolicy policy)
    {
        if (isFile)
        {
            if (policy.FileProblem(reference) is { } refused)
            {
                throw new ChannelsFileException($"{where}: refused: {refused}");
            }

            return File.Exists(reference)
                ? File.ReadAllText(reference).Trim()
                : throw new ChannelsFileException($"{where}: file '{reference}' not found");
        }

        if (policy.EnvProblem(reference) is { } problem)
        {
            throw new ChannelsFileException($"{where}: refused: {problem}");
        }

        return environment(reference) is { Length: > 0 } value
            ? value
            : throw new ChannelsFileException($"{where}: environment variable '{reference}' is not set");
    }

    /// <summary>YAML node → JSON node. Plain (unquoted) true/false become booleans and plain numbers stay text
    /// (protobuf JSON accepts numbers as strings), so quoted values are always strings.</summary>
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode mapping => new JsonObject(mapping.Children.Select(p => KeyValuePair.Create(((YamlScalarNode)p.Key).Value ?? "", ToJson(p.Value)))),
        YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(ToJson)]),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" } => JsonValue.Create(true),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "false" } => JsonValue.Create(false),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "~" or "null" } => null,
        YamlScalarNode scalar => JsonValue.Create(scalar.Value ?? ""),
        _ => null,
    };
}

/// <summary>The channels file is invalid; the message names the entry and the field.</summary>
public sealed class ChannelsFileException(string message) : Exception(message);

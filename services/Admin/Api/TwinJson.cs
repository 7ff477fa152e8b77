using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace WebhookConnect.Admin.Api;

/// <summary>
/// The JSON the twin writes, success and error alike (docs/admin.md, "The JSON API contract"): protobuf JSON with
/// the proto field names and default values, except that 64-bit integers are JSON numbers. Protobuf's JSON mapping
/// writes int64/uint64 as strings (for JavaScript's 53-bit numbers); scripts written for the Webhook Connect admin
/// API compare counters such as <c>published_total</c> as numbers, and a counter will not reach 2^53.
/// </summary>
public static class TwinJson
{
    /// <summary>The one content type of every twin body, 2xx, 4xx and 5xx.</summary>
    public const string ContentType = "application/json; charset=utf-8";

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatDefaultValues(true));

    // Bodies go to curl and scripts, not into HTML: quotes and non-ASCII stay readable ('x', not \u0027x\u0027).
    private static readonly JsonSerializerOptions Output = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A message as the twin writes it; null (an absent resource) as <c>{}</c>.</summary>
    public static string Format(IMessage? message)
    {
        if (message is null)
        {
            return "{}";
        }

        var json = JsonNode.Parse(Formatter.Format(message))!;
        if (json is JsonObject body)
        {
            NumbersFor64BitFields(body, message.Descriptor);
        }

        return json.ToJsonString(Output);
    }

    /// <summary>Any other twin body (errors, health).</summary>
    public static string Format(JsonNode body) => body.ToJsonString(Output);

    public static IResult Result(string json, int statusCode) => Results.Text(json, "application/json", Encoding.UTF8, statusCode);

    /// <summary>
    /// Rewrites the 64-bit integer fields of <paramref name="json"/> (the formatter's output for a message of type
    /// <paramref name="descriptor"/>) from strings to numbers, by descriptor: nested messages, repeated fields and
    /// map values included; map keys stay strings (JSON object keys are strings).
    /// </summary>
    private static void NumbersFor64BitFields(JsonObject json, MessageDescriptor descriptor)
    {
        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            if (json[field.Name] is not { } value)
            {
                continue;
            }

            if (field.IsMap)
            {
                var valueField = field.MessageType.FindFieldByNumber(2);
                if (value is JsonObject map)
                {
                    foreach (var key in map.Select(p => p.Key).ToList())
                    {
                        if (Replacement(map[key], valueField) is { } number)
                        {
                            map[key] = number;
                        }
                    }
                }
            }
            else if (field.IsRepeated)
            {
                if (value is JsonArray items)
                {
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (Replacement(items[i], field) is { } number)
                        {
                            items[i] = number;
                        }
                    }
                }
            }
            else if (Replacement(value, field) is { } number)
            {
                json[field.Name] = number;
            }
        }
    }

    /// <summary>
    /// For one value of <paramref name="field"/> (one element, for a repeated field): the number that replaces a
    /// 64-bit integer written as a string; null when the value stays (nested messages are rewritten in place).
    /// </summary>
    private static JsonNode? Replacement(JsonNode? value, FieldDescriptor field)
    {
        switch (field.FieldType)
        {
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                return AsString(value) is { } signed ? JsonValue.Create(long.Parse(signed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)) : null;
            case FieldType.UInt64 or FieldType.Fixed64:
                return AsString(value) is { } unsigned ? JsonValue.Create(ulong.Parse(unsigned, NumberStyles.None, CultureInfo.InvariantCulture)) : null;
            case FieldType.Message:
                var type = field.MessageType;
                if (type.FullName is "google.protobuf.Int64Value" or "google.protobuf.UInt64Value")
                {
                    // A wrapper is written as its bare value.
                    return Replacement(value, type.FindFieldByNumber(1));
                }

                // Other well-known types (Timestamp, Duration, Struct, Any, …) have their own JSON forms.
                if (type.File.Package != "google.protobuf" && value is JsonObject nested)
                {
                    NumbersFor64BitFields(nested, type);
                }

                return null;
            default:
                return null;
        }
    }

    private static string? AsString(JsonNode? node) =>
        node is JsonValue scalar && scalar.TryGetValue<string>(out var text) ? text : null;
}

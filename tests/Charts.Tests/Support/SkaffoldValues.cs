using System.Globalization;
using System.Text.Json.Nodes;

namespace WebhookConnect.Charts.Tests.Support;

/// <summary>
/// The values skaffold passes to helm for one release of <c>skaffold.yaml</c>, as one values document: <c>overrides</c>,
/// then <c>setValues</c> and <c>setValueTemplates</c> (skaffold's <c>--set</c>, so "true" and "3" become a boolean and a
/// number), with the image templates filled in as skaffold would after a build (<see cref="Registry"/>, <see cref="Tag"/>,
/// <see cref="Digest"/>) and environment templates (<c>{{.REDIS_HOST}}</c>) with a sample value.
/// </summary>
public static class SkaffoldValues
{
    /// <summary>The registry the sample image references point to.</summary>
    public const string Registry = "registry.example.com";

    /// <summary>The sample tag of every built image.</summary>
    public const string Tag = "v1-abc1234";

    /// <summary>The sample digest of every built image.</summary>
    public const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// <summary>The values of <paramref name="release"/> (a <c>deploy.helm.releases[]</c> entry).</summary>
    public static JsonObject For(JsonNode release)
    {
        var values = release["overrides"]?.DeepClone() as JsonObject ?? [];
        foreach (var field in new[] { "setValues", "setValueTemplates" })
        {
            foreach (var (key, value) in release[field] as JsonObject ?? [])
            {
                Set(values, key, Typed(Fill(value?.ToString() ?? string.Empty)));
            }
        }

        return values;
    }

    private static string Fill(string template)
    {
        var text = template;
        foreach (var (prefix, replacement) in new[] { ("IMAGE_REPO_", Registry + "/"), ("IMAGE_TAG_", Tag), ("IMAGE_DIGEST_", Digest) })
        {
            for (var start = text.IndexOf("{{." + prefix, StringComparison.Ordinal); start >= 0; start = text.IndexOf("{{." + prefix, StringComparison.Ordinal))
            {
                var end = text.IndexOf("}}", start, StringComparison.Ordinal);
                var artifact = text[(start + 3 + prefix.Length)..end];
                // IMAGE_REPO_<name>: the repository of the image named <name> with '/' and '-' spelt '_'; the sample
                // registry is prefixed, as --default-repo would.
                var value = prefix == "IMAGE_REPO_" ? replacement + ImageOf(artifact) : replacement;
                text = text[..start] + value + text[(end + 2)..];
            }
        }

        return text.Replace("{{.REDIS_HOST}}", "redis.example.internal", StringComparison.Ordinal);
    }

    // webhook_connect_queue_manager → webhook-connect/queue-manager (the first '_' is the '/').
    private static string ImageOf(string artifact)
    {
        var slash = artifact.IndexOf("_connect_", StringComparison.Ordinal) + "_connect".Length;
        return (artifact[..slash] + "/" + artifact[(slash + 1)..]).Replace('_', '-');
    }

    // helm --set typing: true/false, integers, null; anything else a string.
    private static JsonNode? Typed(string value) =>
        value switch
        {
            "true" => JsonValue.Create(true),
            "false" => JsonValue.Create(false),
            "null" => null,
            _ when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
            _ => JsonValue.Create(value),
        };

    // "a.b[0].c" = value, creating maps and lists on the way (helm --set paths).
    private static void Set(JsonObject root, string path, JsonNode? value)
    {
        JsonNode node = root;
        var segments = path.Split('.');
        for (var i = 0; i < segments.Length; i++)
        {
            var last = i == segments.Length - 1;
            var segment = segments[i];
            var bracket = segment.IndexOf('[', StringComparison.Ordinal);
            var name = bracket < 0 ? segment : segment[..bracket];
            var map = (JsonObject)node;
            if (bracket < 0)
            {
                if (last)
                {
                    map[name] = value;
                    return;
                }

                node = map[name] ??= new JsonObject();
                continue;
            }

            var index = int.Parse(segment[(bracket + 1)..^1], CultureInfo.InvariantCulture);
            var list = (JsonArray)(map[name] ??= new JsonArray());
            while (list.Count <= index)
            {
                list.Add(last ? null : new JsonObject());
            }

            if (last)
            {
                list[index] = value;
                return;
            }

            node = list[index] ??= new JsonObject();
        }
    }
}

/// <summary>
/// Applies a skaffold profile's JSON patches (RFC 6902 <c>add</c> and <c>remove</c>, the two skaffold.yaml uses) to a
/// copy of the config. Hand-written because JsonPatch.Net, the library that would do it, is not served by the
/// package registry here; any other operation fails the test loudly rather than being ignored.
/// </summary>
public static class SkaffoldPatches
{
    /// <summary>A copy of <paramref name="config"/> with <paramref name="patches"/> applied in order.</summary>
    public static JsonObject Apply(JsonObject config, JsonArray patches)
    {
        var copy = (JsonObject)config.DeepClone();
        foreach (var patch in patches)
        {
            var op = (string?)patch!["op"];
            var path = ((string)patch["path"]!).Split('/')[1..].Select(s => s.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToArray();
            var parent = path[..^1].Aggregate((JsonNode)copy, (node, key) => node is JsonArray a ? a[int.Parse(key, CultureInfo.InvariantCulture)]! : node[key]!);
            var last = path[^1];
            switch (op, parent)
            {
                case ("add", JsonObject o):
                    o[last] = patch["value"]?.DeepClone();
                    break;
                case ("add", JsonArray a):
                    a.Insert(last == "-" ? a.Count : int.Parse(last, CultureInfo.InvariantCulture), patch["value"]?.DeepClone());
                    break;
                case ("remove", JsonObject o):
                    Assert.True(o.Remove(last), $"remove {patch["path"]}: no such member");
                    break;
                case ("remove", JsonArray a):
                    a.RemoveAt(int.Parse(last, CultureInfo.InvariantCulture));
                    break;
                default:
                    throw new NotSupportedException($"JSON patch op '{op}' at {patch["path"]} is not supported by this test helper");
            }
        }

        return copy;
    }
}

using System.Reflection;
using System.Runtime.InteropServices;

namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>
/// Every configuration key a service reads: its options classes' properties, walked through nested option objects,
/// lists (<c>:0:</c>) and dictionaries (<c>:name:</c>), read by reflection from the built service assembly (with
/// <see cref="MetadataLoadContext"/>: inspected, never executed), plus the few keys the service defaults read
/// directly. A rendered setting that matches none of them is a value the service ignores.
/// </summary>
public sealed class ConfigurationSurface
{
    /// <summary>Keys every service reads outside its options classes (services/Shared/ServiceDefaults): the log format
    /// and levels.</summary>
    private static readonly string[][] SharedKeys = [["Logging", "Format"], ["Logging", "LogLevel", "*"]];

    /// <summary>Variables the .NET runtime, ASP.NET Core or the OpenTelemetry SDK read (plain names, not
    /// <c>Section__Key</c>), and <c>LOG_FORMAT</c> (services/Shared/ServiceDefaults/Logging).</summary>
    private static readonly string[] RuntimePrefixes = ["DOTNET_", "ASPNETCORE_", "OTEL_", "COMPlus_"];

    private readonly List<string[]> _keys;
    private readonly bool _looseSegments;

    private ConfigurationSurface(List<string[]> keys, IReadOnlyList<string> plainVariables, bool looseSegments)
    {
        _keys = keys;
        PlainVariables = plainVariables;
        _looseSegments = looseSegments;
    }

    /// <summary>Environment variables without <c>__</c> that this service reads.</summary>
    public IReadOnlyList<string> PlainVariables { get; }

    /// <summary>The surface of one service: <paramref name="options"/> maps each configuration section to the full
    /// name of its options class. <paramref name="looseSegments"/>: segments match without case, <c>_</c> and
    /// <c>-</c>, as the connector reads its keys (ConnectorConfiguration.Normalize).</summary>
    public static ConfigurationSurface Load(string assemblyPath, IReadOnlyDictionary<string, string> options, IReadOnlyList<string> plainVariables, bool looseSegments = false)
    {
        var directory = Path.GetDirectoryName(assemblyPath)!;
        var runtime = RuntimeEnvironment.GetRuntimeDirectory();
        // The shared ASP.NET Core framework beside the runtime (shared/Microsoft.AspNetCore.App/<version>).
        var aspNet = Path.GetFullPath(Path.Combine(runtime, "..", "..", "Microsoft.AspNetCore.App", Path.GetFileName(runtime.TrimEnd(Path.DirectorySeparatorChar))));
        var paths = Directory.GetFiles(directory, "*.dll")
            .Concat(Directory.GetFiles(runtime, "*.dll"))
            .Concat(Directory.Exists(aspNet) ? Directory.GetFiles(aspNet, "*.dll") : [])
            .GroupBy(Path.GetFileName).Select(group => group.First());
        using var context = new MetadataLoadContext(new PathAssemblyResolver(paths));
        var keys = new List<string[]>(SharedKeys);
        foreach (var (section, typeName) in options)
        {
            var type = FindType(context, directory, typeName)
                ?? throw new InvalidOperationException($"{typeName} (section {section}) is not in {directory}: the test's table of options classes is out of date");
            Walk(type, [section], keys, depth: 0);
        }

        return new ConfigurationSurface(keys, plainVariables, looseSegments);
    }

    /// <summary>Whether <paramref name="key"/> (<c>Section:Key:…</c>) is one this service reads.</summary>
    public bool Knows(string key)
    {
        var segments = key.Split(':');
        return _keys.Any(known => known.Length == segments.Length && known.Zip(segments).All(pair => Same(pair.First, pair.Second)));
    }

    /// <summary>Whether a plain environment variable (no <c>__</c>) is read by the runtime or this service.</summary>
    public bool KnowsVariable(string name) =>
        RuntimePrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal)) || PlainVariables.Contains(name, StringComparer.Ordinal);

    private bool Same(string known, string given) =>
        known == "*" || (_looseSegments
            ? string.Equals(Loose(known), Loose(given), StringComparison.OrdinalIgnoreCase)
            : string.Equals(known, given, StringComparison.OrdinalIgnoreCase));

    private static string Loose(string segment) => segment.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);

    private static Type? FindType(MetadataLoadContext context, string directory, string typeName)
    {
        foreach (var file in Directory.GetFiles(directory, "WebhookConnect.*.dll"))
        {
            if (context.LoadFromAssemblyPath(file).GetType(typeName) is { } type)
            {
                return type;
            }
        }

        return null;
    }

    /// <summary>Adds the keys under <paramref name="type"/> the way ConfigurationBinder binds them: public properties
    /// with a setter (or a complex/collection value it binds into).</summary>
    private static void Walk(Type type, string[] prefix, List<string[]> keys, int depth)
    {
        if (depth > 8)
        {
            return;
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || property.GetMethod is not { IsPublic: true })
            {
                continue;
            }

            var settable = property.SetMethod is { IsPublic: true };
            var path = (string[])[.. prefix, property.Name];
            var shape = Shape(property.PropertyType, out var element);
            if (shape == Kind.Scalar)
            {
                if (settable)
                {
                    keys.Add(path);
                }

                continue;
            }

            AddValue(shape, element!, path, keys, depth);
        }
    }

    private static void AddValue(Kind shape, Type type, string[] path, List<string[]> keys, int depth)
    {
        switch (shape)
        {
            case Kind.Scalar:
                keys.Add(path);
                break;
            case Kind.Complex:
                Walk(type, path, keys, depth + 1);
                break;
            case Kind.Collection:
                AddValue(Shape(type, out var element), element!, [.. path, "*"], keys, depth + 1);
                break;
        }
    }

    private enum Kind
    {
        Scalar,
        Complex,
        Collection,
    }

    /// <summary>What a type is to the binder; for a collection (list, array, string-keyed dictionary),
    /// <paramref name="element"/> is the element type, otherwise the type itself.</summary>
    private static Kind Shape(Type type, out Type? element)
    {
        element = type;
        if (type.IsGenericType && type.GetGenericTypeDefinition().FullName == "System.Nullable`1")
        {
            element = type = type.GetGenericArguments()[0];
        }

        if (type.IsPrimitive || type.IsEnum || type.FullName is "System.String" or "System.TimeSpan" or "System.DateTime" or "System.DateTimeOffset"
            or "System.Decimal" or "System.Guid" or "System.Uri" or "System.Object")
        {
            return Kind.Scalar;
        }

        if (type.IsArray)
        {
            element = type.GetElementType();
            return Kind.Collection;
        }

        if (type.IsGenericType && type.Namespace is "System.Collections.Generic")
        {
            var arguments = type.GetGenericArguments();
            element = arguments[^1];
            return Kind.Collection;
        }

        // Only the services' own option classes are walked; any other type is bound as one value, if at all.
        return type.Namespace?.StartsWith("WebhookConnect", StringComparison.Ordinal) == true ? Kind.Complex : Kind.Scalar;
    }
}

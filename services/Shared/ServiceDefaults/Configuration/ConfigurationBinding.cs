using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace WebhookConnect.ServiceDefaults.Configuration;

/// <summary>
/// Binds a section and turns the binder's conversion failure into the same "key = value: reason" shape the
/// validator uses, so an operator reads one kind of message whatever went wrong.
/// </summary>
internal sealed partial class ConfigurationBinding<TOptions>(IConfigurationSection section) : IConfigureOptions<TOptions>
    where TOptions : class
{
    public void Configure(TOptions options)
    {
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex) when (Describe(ex) is { } failure)
        {
            throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(TOptions), [failure]);
        }
    }

    private static string? Describe(InvalidOperationException ex)
    {
        // The binder's message is the only place that names the key; its shape is stable since .NET 7.
        var match = ConversionFailure().Match(ex.Message);
        if (!match.Success)
        {
            return null;
        }

        return $"Invalid configuration: {match.Groups["path"].Value} = '{match.Groups["value"].Value}': " +
            $"cannot be converted to {FriendlyTypeName(match.Groups["type"].Value)}.";
    }

    private static string FriendlyTypeName(string typeName)
    {
        // "System.Nullable`1[[System.Int32, System.Private.CoreLib, ...]]" -> "Int32"
        var inner = typeName.IndexOf("[[", StringComparison.Ordinal);
        if (inner >= 0)
        {
            var end = typeName.IndexOf(',', inner);
            typeName = typeName[(inner + 2)..(end < 0 ? typeName.Length : end)];
        }

        var dot = typeName.LastIndexOf('.');
        return dot < 0 ? typeName : typeName[(dot + 1)..];
    }

    [GeneratedRegex(@"^Failed to convert configuration value '(?<value>.*)' at '(?<path>[^']*)' to type '(?<type>.+)'\.$", RegexOptions.Singleline)]
    private static partial Regex ConversionFailure();
}

using System.Collections;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace WebhookConnect.ServiceDefaults.Configuration;

/// <summary>
/// DataAnnotations and <see cref="IValidatableObject"/> validation whose failures read
/// <c>Invalid configuration: Section:Key = 'value': reason</c>: the operator sees the exact key to fix, in the
/// spelling they would type into an environment variable or appsettings file, and what they wrote there.
/// </summary>
internal sealed partial class ConfigurationKeyValidator<TOptions>(IConfigurationSection section) : IValidateOptions<TOptions>
    where TOptions : class
{
    private const int MaxDepth = 8;

    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        if (name != Microsoft.Extensions.Options.Options.DefaultName)
        {
            return ValidateOptionsResult.Skip;
        }

        var failures = new List<string>();
        Collect(options, section, failures, new HashSet<object>(ReferenceEqualityComparer.Instance), depth: 0);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Collect(object instance, IConfigurationSection level, List<string> failures, HashSet<object> visited, int depth)
    {
        if (depth > MaxDepth || !visited.Add(instance))
        {
            return;
        }

        var results = new List<ValidationResult>();
        Validator.TryValidateObject(instance, new ValidationContext(instance), results, validateAllProperties: true);
        foreach (var result in results)
        {
            failures.Add(Format(instance, level, result));
        }

        // Nested option objects ("Section:Child:Key") are validated too, so their keys get the same treatment.
        foreach (var property in instance.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length == 0 && property.CanRead && IsNestedOptions(property.PropertyType) &&
                property.GetValue(instance) is { } child)
            {
                Collect(child, level.GetSection(property.Name), failures, visited, depth + 1);
            }
        }
    }

    private static string Format(object instance, IConfigurationSection level, ValidationResult result)
    {
        var reason = Reason(result.ErrorMessage);
        var members = result.MemberNames.Where(m => !string.IsNullOrEmpty(m)).ToList();
        if (members.Count == 0)
        {
            return $"Invalid configuration: {level.Path}: {reason}";
        }

        var keys = string.Join(", ", members.Select(m => $"{level.Path}:{m} = {DisplayValue(instance, level, m)}"));
        return $"Invalid configuration: {keys}: {reason}";
    }

    /// <summary>
    /// Shows what the operator wrote, not what the binder made of it; falls back to the effective default when the
    /// key is absent, because a bad built-in default is also worth naming.
    /// </summary>
    private static string DisplayValue(object instance, IConfigurationSection level, string member)
    {
        var property = instance.GetType().GetProperty(member, BindingFlags.Public | BindingFlags.Instance);
        var secret = property is not null && IsSecret(property);
        var raw = level.GetSection(member).Value;
        if (raw is not null)
        {
            return secret && raw.Length > 0 ? "'***'" : $"'{raw}'";
        }

        var effective = property?.GetValue(instance);
        return effective switch
        {
            null => "(not set)",
            _ when secret => "'***' (default)",
            string s => $"'{s}' (default)",
            IEnumerable items => $"[{string.Join(", ", items.Cast<object?>().Select(Invariant))}] (default)",
            _ => $"'{Invariant(effective)}' (default)",
        };
    }

    private static string Invariant(object? value) => value switch
    {
        null => "",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static bool IsSecret(PropertyInfo property) =>
        property.GetCustomAttribute<PasswordPropertyTextAttribute>()?.Password == true ||
        property.GetCustomAttribute<DataTypeAttribute>()?.DataType == DataType.Password;

    private static bool IsNestedOptions(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type) &&
        !typeof(Delegate).IsAssignableFrom(type) && type.Namespace?.StartsWith("System", StringComparison.Ordinal) != true &&
        !type.IsDefined(typeof(CompilerGeneratedAttribute));

    /// <summary>
    /// DataAnnotations messages start with "The field X" or "The X field", which would repeat the key we already
    /// print; custom messages are kept as written.
    /// </summary>
    private static string Reason(string? message)
    {
        if (string.IsNullOrWhiteSpace(message))
        {
            return "is invalid.";
        }

        var match = AttributePrefix().Match(message);
        return match.Success ? match.Groups["rest"].Value : message;
    }

    [GeneratedRegex(@"^The (?:field \S+|\S+ field) (?<rest>.+)$", RegexOptions.Singleline)]
    private static partial Regex AttributePrefix();
}

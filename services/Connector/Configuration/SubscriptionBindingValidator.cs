using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace WebhookConnect.Connector.Configuration;

/// <summary>
/// The configuration binder silently drops a list element it cannot convert (a subscription whose
/// <c>max_in_flight</c> is "many" would simply vanish), so each subscription is bound again on its own here, and a
/// conversion failure is reported like every other bad setting: key, value, reason.
/// </summary>
public sealed partial class SubscriptionBindingValidator(IConfiguration configuration) : IValidateOptions<ConnectorOptions>
{
    public ValidateOptionsResult Validate(string? name, ConnectorOptions options)
    {
        var failures = new List<string>();
        foreach (var child in configuration.GetSection(ConnectorOptions.SectionName).GetSection(nameof(ConnectorOptions.Subscriptions)).GetChildren())
        {
            try
            {
                child.Bind(new SubscriptionOptions());
            }
            catch (InvalidOperationException ex) when (ConversionFailure().Match(ex.Message) is { Success: true } match)
            {
                var type = match.Groups["type"].Value;
                failures.Add($"Invalid configuration: {match.Groups["path"].Value} = '{match.Groups["value"].Value}': cannot be converted to {type[(type.LastIndexOf('.') + 1)..]}.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex(@"^Failed to convert configuration value '(?<value>.*)' at '(?<path>[^']*)' to type '(?<type>[^']+)'\.$", RegexOptions.Singleline)]
    private static partial Regex ConversionFailure();
}

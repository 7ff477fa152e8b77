namespace WebhookConnect.ServiceDefaults.Prometheus;

/// <summary>
/// Matches meter names the way OpenTelemetry's <c>AddMeter</c> does for the patterns we use: exact names, and
/// <c>Prefix.*</c> for a name and everything below it. Case-insensitive, as meter names are.
/// </summary>
internal sealed class MeterMatcher(IReadOnlyList<string> patterns)
{
    public bool Matches(string meterName)
    {
        foreach (var pattern in patterns)
        {
            if (pattern == "*")
            {
                return true;
            }

            if (pattern.EndsWith(".*", StringComparison.Ordinal))
            {
                var prefix = pattern.AsSpan(0, pattern.Length - 2);
                if (meterName.AsSpan().Equals(prefix, StringComparison.OrdinalIgnoreCase) ||
                    (meterName.Length > prefix.Length + 1 && meterName[prefix.Length] == '.' &&
                     meterName.AsSpan().StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
                {
                    return true;
                }
            }
            else if (string.Equals(pattern, meterName, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

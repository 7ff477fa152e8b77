using System.Globalization;
using System.Text;

namespace WebhookConnect.ServiceDefaults.Prometheus;

/// <summary>
/// Names, escaping and number formatting of the Prometheus text exposition format 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).
/// </summary>
internal static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>
    /// <c>webhookconnect.ingress.requests</c> (counter) → <c>webhookconnect_ingress_requests_total</c>;
    /// <c>http.server.request.duration</c> (unit <c>s</c>) → <c>http_server_request_duration_seconds</c>.
    /// </summary>
    public static string MetricName(string instrumentName, string? unit, bool isCounter)
    {
        var name = new StringBuilder(instrumentName.Length + 16);
        foreach (var c in instrumentName)
        {
            name.Append(c switch
            {
                >= 'a' and <= 'z' or >= '0' and <= '9' or '_' or ':' => c,
                >= 'A' and <= 'Z' => char.ToLowerInvariant(c),
                _ => '_',
            });
        }

        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            name.Insert(0, '_');
        }

        // Prometheus puts the base unit in the name; OpenTelemetry keeps it beside the name.
        var suffix = unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            _ => null,
        };
        AppendSuffix(name, suffix);
        AppendSuffix(name, isCounter ? "_total" : null);
        return name.ToString();
    }

    private static void AppendSuffix(StringBuilder name, string? suffix)
    {
        if (suffix is not null && !name.ToString().EndsWith(suffix, StringComparison.Ordinal))
        {
            name.Append(suffix);
        }
    }

    public static string LabelName(string tagKey)
    {
        var name = new StringBuilder(tagKey.Length + 1);
        foreach (var c in tagKey)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        }

        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            name.Insert(0, '_');
        }

        return name.ToString();
    }

    public static void AppendLabelValue(StringBuilder sb, string value)
    {
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append(@"\n"); break;
                default: sb.Append(c); break;
            }
        }
    }

    public static void AppendHelp(StringBuilder sb, string help)
    {
        foreach (var c in help)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '\n': sb.Append(@"\n"); break;
                default: sb.Append(c); break;
            }
        }
    }

    public static string TagValue(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Integers print without a decimal point, everything else round-trips.</summary>
    public static void AppendNumber(StringBuilder sb, double value)
    {
        if (double.IsNaN(value))
        {
            sb.Append("NaN");
        }
        else if (double.IsPositiveInfinity(value))
        {
            sb.Append("+Inf");
        }
        else if (double.IsNegativeInfinity(value))
        {
            sb.Append("-Inf");
        }
        else if (Math.Abs(value) < 1e15 && value == Math.Floor(value))
        {
            sb.Append(((long)value).ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            sb.Append(value.ToString("R", CultureInfo.InvariantCulture));
        }
    }
}

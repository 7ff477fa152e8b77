using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace WebhookConnect.ServiceDefaults.Logging;

/// <summary>
/// One line per event on stdout: human-readable by default, JSON when <c>Logging:Format</c> (or the
/// environment variable <c>LOG_FORMAT</c>) is <c>json</c> for log shippers. Levels come from the standard
/// <c>Logging:LogLevel</c> section.
/// </summary>
internal static class ConsoleLogging
{
    public const string FormatKey = "Logging:Format";
    public const string FormatEnvironmentKey = "LOG_FORMAT";
    private const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

    /// <summary>
    /// Level defaults that keep request-path logging quiet: ASP.NET Core writes four Information lines per request
    /// (each gRPC call is one), which costs throughput and buries the events that matter. Added as the
    /// lowest-priority configuration source, so <c>Logging:LogLevel:Microsoft.AspNetCore</c> in any file,
    /// environment variable or flag still overrides it.
    /// </summary>
    public static void AddDefaultLevels(IConfigurationBuilder configuration) =>
        configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                // It logs every failing probe as an error: a replica that is still starting (or waiting for Redis)
                // would print "fail:" lines on each /readyz call. /readyz names what fails; the services log causes.
                ["Logging:LogLevel:Microsoft.Extensions.Diagnostics.HealthChecks"] = "Critical",
            },
        });

    public static void Add(ILoggingBuilder logging)
    {
        logging.AddConsole();
        logging.Configure(o => o.ActivityTrackingOptions =
            ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);

        // Decided when the logger is created rather than now, so configuration sources added after
        // AddServiceDefaults (tests, service-specific files) still count.
        logging.Services.AddOptions<ConsoleLoggerOptions>().Configure<IConfiguration>((options, configuration) =>
            options.FormatterName = IsJson(configuration) ? ConsoleFormatterNames.Json : ConsoleFormatterNames.Simple);

        // Configured directly: AddSimpleConsole/AddJsonConsole would also each claim the formatter name.
        logging.Services.Configure<SimpleConsoleFormatterOptions>(o =>
        {
            o.SingleLine = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = TimestampFormat + " ";
            o.IncludeScopes = false;
        });
        logging.Services.Configure<JsonConsoleFormatterOptions>(o =>
        {
            o.UseUtcTimestamp = true;
            o.TimestampFormat = TimestampFormat;
            // Scopes carry the trace and span ids, which is what joins a JSON log line to its trace.
            o.IncludeScopes = true;
            o.JsonWriterOptions = new() { Indented = false };
        });
    }

    private static bool IsJson(IConfiguration configuration) =>
        string.Equals(configuration[FormatKey] ?? configuration[FormatEnvironmentKey], "json", StringComparison.OrdinalIgnoreCase);
}

using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebhookConnect.ServiceDefaults.Tests.Support;

namespace WebhookConnect.ServiceDefaults.Tests;

[Collection(ProcessWideCollection.Name)]
public sealed partial class LoggingTests
{
    private const string Category = "WebhookConnect.Tests.Logging";

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Marker {Marker}")]
    private static partial void LogMarker(ILogger logger, string marker);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "Quiet {Marker}")]
    private static partial void LogQuiet(ILogger logger, string marker);

    /// <summary>Runs a real host whose console logger writes into a buffer, logs, and returns the lines once the host has flushed them.</summary>
    private static async Task<string[]> CaptureLogLinesAsync(IDictionary<string, string?> configuration, string marker)
    {
        var original = Console.Out;
        using var buffer = new StringWriter(CultureInfo.InvariantCulture);
        // The console logger takes Console.Out when it is created, so the swap has to come before the host.
        Console.SetOut(TextWriter.Synchronized(buffer));
        try
        {
            await using (var app = await TestApp.StartAsync(configuration))
            {
                var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Category);
                LogQuiet(logger, marker);
                LogMarker(logger, marker);
            }

            // Disposing the host disposed the logger provider, which drains its queue before returning.
        }
        finally
        {
            Console.SetOut(original);
        }

        return AnsiEscape().Replace(buffer.ToString(), "").Split('\n')
            .Where(l => l.Contains(marker, StringComparison.Ordinal)).Select(l => l.TrimEnd('\r')).ToArray();
    }

    [Fact]
    public async Task DefaultFormatIsOneLinePerEventWithUtcTimestamp()
    {
        var marker = Guid.NewGuid().ToString("N");

        var lines = await CaptureLogLinesAsync(new Dictionary<string, string?>(), marker);

        var line = Assert.Single(lines);
        var match = Regex.Match(line, $@"^(?<ts>\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}\.\d{{3}}Z) warn: {Regex.Escape(Category)}\[7\] Marker {marker}$");
        Assert.True(match.Success, line);
        var timestamp = DateTime.Parse(match.Groups["ts"].Value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        Assert.InRange(timestamp, DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddSeconds(1));
    }

    [Theory]
    [InlineData("Logging:Format")]
    [InlineData("LOG_FORMAT")]
    public async Task JsonFormatIsSwitchedOnByConfiguration(string key)
    {
        var marker = Guid.NewGuid().ToString("N");

        var lines = await CaptureLogLinesAsync(new Dictionary<string, string?> { [key] = "json" }, marker);

        // Information is below the configured Logging:LogLevel:Default of Warning, so only the marker remains.
        var line = Assert.Single(lines);
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", root.GetProperty("Timestamp").GetString());
        Assert.Equal(7, root.GetProperty("EventId").GetInt32());
        Assert.Equal("Warning", root.GetProperty("LogLevel").GetString());
        Assert.Equal(Category, root.GetProperty("Category").GetString());
        Assert.Equal($"Marker {marker}", root.GetProperty("Message").GetString());
        Assert.Equal(marker, root.GetProperty("State").GetProperty("Marker").GetString());
    }

    [Fact]
    public async Task LevelsComeFromStandardConfiguration()
    {
        var marker = Guid.NewGuid().ToString("N");

        var lines = await CaptureLogLinesAsync(
            new Dictionary<string, string?> { [$"Logging:LogLevel:{Category}"] = "Information" }, marker);

        Assert.Equal(2, lines.Length);
        Assert.Contains($"info: {Category}[8] Quiet {marker}", lines[0], StringComparison.Ordinal);
        Assert.Contains($"warn: {Category}[7] Marker {marker}", lines[1], StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\x1B\[[0-9;]*m")]
    private static partial Regex AnsiEscape();
}

using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using WebhookConnect.ServiceDefaults.Tests.Support;

using WebhookConnect.TestKit;

namespace WebhookConnect.ServiceDefaults.Tests;

/// <summary>
/// <c>/metrics</c> is the OpenTelemetry Prometheus exporter; these tests pin what users scrape: names, types, labels
/// and bucket bounds as SPEC §10 and earlier releases exposed them, and output that Prometheus' own parser accepts.
/// The exporter writes <c># TYPE</c> before <c># HELP</c>, series in the order they first appeared, and <c>{}</c>
/// after the name of a series without labels; Prometheus reads all of that exactly as before.
/// </summary>
[Collection(ProcessWideCollection.Name)]
public sealed class MetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Meters come from the host's IMeterFactory, as in a service.</summary>
    private static Meter CreateMeter(TestApp app) =>
        app.Services.GetRequiredService<IMeterFactory>().Create(Telemetry.MeterName("Test"));

    private static async Task<string> ScrapeAsync(TestApp app)
    {
        using var response = await app.Management.GetAsync("/metrics", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(response.Content.Headers.ContentType!.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        return await response.Content.ReadAsStringAsync(Ct);
    }

    private static string[] Lines(string exposition, string metricPrefix) =>
        exposition.Split('\n').Where(l => l.StartsWith(metricPrefix, StringComparison.Ordinal) ||
            l.StartsWith("# HELP " + metricPrefix, StringComparison.Ordinal) ||
            l.StartsWith("# TYPE " + metricPrefix, StringComparison.Ordinal)).ToArray();

    /// <summary>Instruments of every kind our services use, recorded the way they record them.</summary>
    private static void RecordServiceLikeInstruments(Meter meter)
    {
        var requests = meter.CreateCounter<long>("webhookconnect.test.requests", description: "Requests handled.");
        var inFlight = meter.CreateUpDownCounter<int>("webhookconnect.test.in-flight", description: "Requests in progress.");
        meter.CreateObservableGauge("webhookconnect.test.queue_depth",
            () => new[] { new Measurement<double>(7.5, new KeyValuePair<string, object?>("channel", "c1")), new Measurement<double>(0, new KeyValuePair<string, object?>("channel", "c0")) },
            description: "Messages waiting.\nPer channel.");
        meter.CreateObservableGauge("webhookconnect.test.up", () => 1, description: "Whether it is up.");
        var duration = meter.CreateHistogram<double>("webhookconnect.test.duration", unit: "s", description: "Time to handle.",
            advice: Telemetry.SecondsHistogramAdvice);

        requests.Add(2, new("code", "200"), new("endpoint", "a\"b"));
        requests.Add(1, new("endpoint", "a\"b"), new("code", "200")); // same series, tags in another order
        requests.Add(1, new("code", "500"), new("endpoint", "x\\y\nz"));
        inFlight.Add(5);
        inFlight.Add(-2);
        foreach (var seconds in new[] { 0.25, 0.5, 3, 20 })
        {
            duration.Record(seconds, new KeyValuePair<string, object?>("channel", "c1"));
        }
    }

    [Fact]
    public async Task InstrumentsKeepTheirPrometheusNamesLabelsAndBuckets()
    {
        await using var app = await TestApp.StartAsync();
        using var meter = CreateMeter(app);
        RecordServiceLikeInstruments(meter);

        var text = await ScrapeAsync(app);

        Assert.Equal(
            [
                "# TYPE webhookconnect_test_duration_seconds histogram",
                "# HELP webhookconnect_test_duration_seconds Time to handle.",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"0.0005\"} 0",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"0.001\"} 0",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"0.0025\"} 0",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"0.005\"} 0",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"0.01\"} 0",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"0.025\"} 0",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"0.05\"} 0",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"0.1\"} 0",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"0.25\"} 1",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"0.5\"} 2",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"1\"} 2",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"2.5\"} 2",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"5\"} 3",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"10\"} 3",
                "webhookconnect_test_duration_seconds_bucket{channel=\"c1\",le=\"+Inf\"} 4",
                "webhookconnect_test_duration_seconds_sum{channel=\"c1\"} 23.75",
                "webhookconnect_test_duration_seconds_count{channel=\"c1\"} 4",
                "# TYPE webhookconnect_test_in_flight gauge",
                "# HELP webhookconnect_test_in_flight Requests in progress.",
                "webhookconnect_test_in_flight{} 3",
                "# TYPE webhookconnect_test_queue_depth gauge",
                "# HELP webhookconnect_test_queue_depth Messages waiting.\\nPer channel.",
                "webhookconnect_test_queue_depth{channel=\"c1\"} 7.5",
                "webhookconnect_test_queue_depth{channel=\"c0\"} 0",
                "# TYPE webhookconnect_test_requests_total counter",
                "# HELP webhookconnect_test_requests_total Requests handled.",
                "webhookconnect_test_requests_total{code=\"200\",endpoint=\"a\\\"b\"} 3",
                "webhookconnect_test_requests_total{code=\"500\",endpoint=\"x\\\\y\\nz\"} 1",
                "# TYPE webhookconnect_test_up gauge",
                "# HELP webhookconnect_test_up Whether it is up.",
                "webhookconnect_test_up{} 1",
            ],
            Lines(text, "webhookconnect_test_"));
    }

    [Fact]
    public async Task NoScopeLabelsOrTargetInfoAreAddedToWhatUsersScrape()
    {
        await using var app = await TestApp.StartAsync();
        using var meter = CreateMeter(app);
        RecordServiceLikeInstruments(meter);

        var text = await ScrapeAsync(app);

        Assert.Contains("webhookconnect_test_requests_total{", text, StringComparison.Ordinal);
        Assert.DoesNotContain("otel_scope", text, StringComparison.Ordinal);
        Assert.DoesNotContain("target_info", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ScrapePassesPromtoolCheckMetrics()
    {
        await using var app = await TestApp.StartAsync();
        using var meter = CreateMeter(app);
        RecordServiceLikeInstruments(meter);
        using (await app.Management.GetAsync("/healthz", Ct))
        {
        }

        var text = await ScrapeAsync(app);
        var (exitCode, output) = await Promtool.CheckMetricsAsync(text, Ct);

        // promtool exits 1 when the text does not parse and 3 when it parses but has lint findings. The only findings
        // allowed are the .NET runtime's own gauges named *_count (semantic conventions we do not rename).
        string[] runtimeNames = ["dotnet_assembly_count", "dotnet_process_cpu_count", "dotnet_thread_pool_thread_count", "dotnet_timer_count"];
        var findings = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(exitCode == 0 || (exitCode == Promtool.LintProblemsExitCode && findings.All(f => runtimeNames.Any(n => f.StartsWith(n + " ", StringComparison.Ordinal)))),
            $"promtool check metrics exited with {exitCode}:\n{output}");
        Assert.Contains("webhookconnect_test_duration_seconds_bucket{", text, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration_seconds_bucket{", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ObservableInstrumentsAreCollectedAtScrapeTimeAndForgetSeriesNoLongerReported()
    {
        await using var app = await TestApp.StartAsync();
        using var meter = CreateMeter(app);
        var channels = new List<string> { "a", "b" };
        long total = 0;
        meter.CreateObservableUpDownCounter("webhookconnect.test.connections",
            () => channels.Select(c => new Measurement<int>(1, new KeyValuePair<string, object?>("channel", c))).ToArray());
        meter.CreateObservableCounter("webhookconnect.test.polls", () => total);

        total = 5;
        var first = Lines(await ScrapeAsync(app), "webhookconnect_test_").Where(l => !l.StartsWith('#'));
        channels.Remove("a");
        total = 8;
        var second = Lines(await ScrapeAsync(app), "webhookconnect_test_").Where(l => !l.StartsWith('#'));

        Assert.Equal(
            ["webhookconnect_test_connections{channel=\"a\"} 1", "webhookconnect_test_connections{channel=\"b\"} 1", "webhookconnect_test_polls_total{} 5"],
            first);
        Assert.Equal(["webhookconnect_test_connections{channel=\"b\"} 1", "webhookconnect_test_polls_total{} 8"], second);
    }

    [Fact]
    public async Task BuiltInAspNetCoreMetricsAreExported()
    {
        await using var app = await TestApp.StartAsync();
        using (await app.Management.GetAsync("/healthz", Ct))
        {
        }

        // The request duration is recorded as the request completes, which may be just after the client has its answer.
        var line = await Eventually.GetAsync(
            async () => (await ScrapeAsync(app)).Split('\n').FirstOrDefault(l =>
                l.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal) &&
                l.Contains("http_route=\"/healthz\"", StringComparison.Ordinal)),
            "the ASP.NET Core request duration of GET /healthz");

        Assert.Contains("http_request_method=\"GET\"", line, StringComparison.Ordinal);
        Assert.Contains("http_response_status_code=\"200\"", line, StringComparison.Ordinal);
        Assert.EndsWith("} 1", line, StringComparison.Ordinal);
    }
}

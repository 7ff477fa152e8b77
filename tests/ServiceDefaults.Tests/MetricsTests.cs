using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using WebhookConnect.ServiceDefaults.Tests.Support;

namespace WebhookConnect.ServiceDefaults.Tests;

public sealed class MetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Meters come from the host's IMeterFactory, as in a service, so parallel tests' hosts don't see them.</summary>
    private static Meter CreateMeter(TestApp app) =>
        app.Services.GetRequiredService<IMeterFactory>().Create(Telemetry.MeterName("Test"));

    private static async Task<string> ScrapeAsync(TestApp app)
    {
        using var response = await app.Management.GetAsync("/metrics", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        return await response.Content.ReadAsStringAsync(Ct);
    }

    private static string[] Lines(string exposition, string metricPrefix) =>
        exposition.Split('\n').Where(l => l.StartsWith(metricPrefix, StringComparison.Ordinal) ||
            l.StartsWith("# HELP " + metricPrefix, StringComparison.Ordinal) ||
            l.StartsWith("# TYPE " + metricPrefix, StringComparison.Ordinal)).ToArray();

    [Fact]
    public async Task InstrumentsAreRenderedAsPrometheusText()
    {
        await using var app = await TestApp.StartAsync();
        using var meter = CreateMeter(app);
        var requests = meter.CreateCounter<long>("webhookconnect.test.requests", description: "Requests handled.");
        var inFlight = meter.CreateUpDownCounter<int>("webhookconnect.test.in-flight", description: "Requests in progress.");
        meter.CreateObservableGauge("webhookconnect.test.queue_depth",
            () => new[] { new Measurement<double>(7.5, new KeyValuePair<string, object?>("channel", "c1")), new Measurement<double>(0, new KeyValuePair<string, object?>("channel", "c0")) },
            description: "Messages waiting.\nPer channel.");
        var duration = meter.CreateHistogram<double>("webhookconnect.test.duration", unit: "s", description: "Time to handle.");

        requests.Add(2, new("code", "200"), new("endpoint", "a\"b"));
        requests.Add(1, new("endpoint", "a\"b"), new("code", "200")); // same series, tags in another order
        requests.Add(1, new("code", 500), new("endpoint", "x\\y\nz"));
        inFlight.Add(5);
        inFlight.Add(-2);
        foreach (var seconds in new[] { 0.25, 0.5, 3, 20 })
        {
            duration.Record(seconds, new KeyValuePair<string, object?>("channel", "c1"));
        }

        var text = await ScrapeAsync(app);

        Assert.Equal(
            [
                "# HELP webhookconnect_test_duration_seconds Time to handle.",
                "# TYPE webhookconnect_test_duration_seconds histogram",
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
                "# HELP webhookconnect_test_in_flight Requests in progress.",
                "# TYPE webhookconnect_test_in_flight gauge",
                "webhookconnect_test_in_flight 3",
                "# HELP webhookconnect_test_queue_depth Messages waiting.\\nPer channel.",
                "# TYPE webhookconnect_test_queue_depth gauge",
                "webhookconnect_test_queue_depth{channel=\"c0\"} 0",
                "webhookconnect_test_queue_depth{channel=\"c1\"} 7.5",
                "# HELP webhookconnect_test_requests_total Requests handled.",
                "# TYPE webhookconnect_test_requests_total counter",
                "webhookconnect_test_requests_total{code=\"200\",endpoint=\"a\\\"b\"} 3",
                "webhookconnect_test_requests_total{code=\"500\",endpoint=\"x\\\\y\\nz\"} 1",
            ],
            Lines(text, "webhookconnect_test_"));
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryNumericMeasurementTypeIsCounted()
    {
        await using var app = await TestApp.StartAsync();
        using var meter = CreateMeter(app);
        meter.CreateCounter<byte>("webhookconnect.test.t_byte").Add(2);
        meter.CreateCounter<short>("webhookconnect.test.t_short").Add(2);
        meter.CreateCounter<int>("webhookconnect.test.t_int").Add(2);
        meter.CreateCounter<long>("webhookconnect.test.t_long").Add(2);
        meter.CreateCounter<float>("webhookconnect.test.t_float").Add(0.5f);
        meter.CreateCounter<double>("webhookconnect.test.t_double").Add(1.25);
        meter.CreateCounter<decimal>("webhookconnect.test.t_decimal").Add(2.5m);
        var doubles = meter.CreateCounter<double>("webhookconnect.test.t_double_sum");
        doubles.Add(1.5);
        doubles.Add(2.25);

        var samples = Lines(await ScrapeAsync(app), "webhookconnect_test_t_").Where(l => !l.StartsWith('#')).ToArray();

        Assert.Equal(
            [
                "webhookconnect_test_t_byte_total 2",
                "webhookconnect_test_t_decimal_total 2.5",
                "webhookconnect_test_t_double_sum_total 3.75",
                "webhookconnect_test_t_double_total 1.25",
                "webhookconnect_test_t_float_total 0.5",
                "webhookconnect_test_t_int_total 2",
                "webhookconnect_test_t_long_total 2",
                "webhookconnect_test_t_short_total 2",
            ],
            samples);
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
            ["webhookconnect_test_connections{channel=\"a\"} 1", "webhookconnect_test_connections{channel=\"b\"} 1", "webhookconnect_test_polls_total 5"],
            first);
        Assert.Equal(["webhookconnect_test_connections{channel=\"b\"} 1", "webhookconnect_test_polls_total 8"], second);
    }

    [Fact]
    public async Task ConcurrentIncrementsAreAllCounted()
    {
        await using var app = await TestApp.StartAsync();
        using var meter = CreateMeter(app);
        var counter = meter.CreateCounter<long>("webhookconnect.test.concurrent");
        var histogram = meter.CreateHistogram<double>("webhookconnect.test.concurrent_duration");
        const int Threads = 8;
        const int PerThread = 20_000;

        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(
            () =>
            {
                for (var i = 0; i < PerThread; i++)
                {
                    counter.Add(1, new KeyValuePair<string, object?>("shard", i % 2));
                    histogram.Record(0.5);
                }
            },
            Ct)));
        var text = await ScrapeAsync(app);

        Assert.Contains($"webhookconnect_test_concurrent_total{{shard=\"0\"}} {Threads * PerThread / 2}\n", text, StringComparison.Ordinal);
        Assert.Contains($"webhookconnect_test_concurrent_total{{shard=\"1\"}} {Threads * PerThread / 2}\n", text, StringComparison.Ordinal);
        Assert.Contains($"webhookconnect_test_concurrent_duration_count {Threads * PerThread}\n", text, StringComparison.Ordinal);
        Assert.Contains($"webhookconnect_test_concurrent_duration_sum {Threads * PerThread / 2}\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HistogramHonoursBucketAdvice()
    {
        await using var app = await TestApp.StartAsync();
        using var meter = CreateMeter(app);
        var sizes = meter.CreateHistogram<int>("webhookconnect.test.size", unit: "By", description: null, tags: null,
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [100, 1000] });
        sizes.Record(100);
        sizes.Record(101);
        sizes.Record(5000);

        var samples = Lines(await ScrapeAsync(app), "webhookconnect_test_size").Where(l => !l.StartsWith('#'));

        Assert.Equal(
            [
                "webhookconnect_test_size_bytes_bucket{le=\"100\"} 1",
                "webhookconnect_test_size_bytes_bucket{le=\"1000\"} 2",
                "webhookconnect_test_size_bytes_bucket{le=\"+Inf\"} 3",
                "webhookconnect_test_size_bytes_sum 5201",
                "webhookconnect_test_size_bytes_count 3",
            ],
            samples);
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

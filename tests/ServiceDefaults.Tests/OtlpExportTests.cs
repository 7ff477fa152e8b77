using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using WebhookConnect.ServiceDefaults.Tests.Support;

using WebhookConnect.TestKit;
using WebhookConnect.TestKit.Otlp;

namespace WebhookConnect.ServiceDefaults.Tests;

[Collection(ProcessWideCollection.Name)]
public sealed class OtlpExportTests
{
    private static readonly ActivitySource Source = new(Telemetry.ActivitySourceName("Test"));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A service with one traffic endpoint that creates its own span and counts itself.</summary>
    private static async Task<(TestApp App, HttpClient Traffic)> StartServiceAsync(Dictionary<string, string?> configuration)
    {
        var trafficPort = FreePort.Next();
        Counter<long>? work = null;
        var app = await TestApp.StartAsync(
            configuration,
            builder => builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, trafficPort)),
            web =>
            {
                work = web.Services.GetRequiredService<IMeterFactory>().Create(Telemetry.MeterName("Test"))
                    .CreateCounter<long>("webhookconnect.test.work");
                web.MapGet("/work", () =>
                {
                    using var activity = Source.StartActivity("test-operation");
                    work!.Add(1);
                    return Results.Text("worked");
                });
                web.MapGet("/fail/{id}", string (string id) => throw new InvalidOperationException("boom " + id));
            },
            new ServiceDefaultsSettings("otlp-test-service", 0));
        return (app, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{trafficPort}") });
    }

    [Fact]
    public async Task TracesAndMetricsReachTheCollectorWhenTheEndpointIsConfigured()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        var (app, traffic) = await StartServiceAsync(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        });
        await using (app)
        using (traffic)
        {
            Assert.Equal("worked", await traffic.GetStringAsync("/work", Ct));
            using (var failed = await traffic.GetAsync("/fail/7", Ct))
            {
                Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
            }

            using (await app.Management.GetAsync("/healthz", Ct))
            {
            }

            var traces = await collector.WaitForAsync(
                r => r.Path == "/v1/traces" && OtlpProtobuf.ReadSpans(r.Body).Any(s => s.Name == "test-operation"),
                "the test span at /v1/traces");
            Assert.Equal("application/x-protobuf", traces.ContentType);
            await collector.WaitForAsync(
                r => r.Path == "/v1/metrics" && OtlpProtobuf.ReadMetrics(r.Body).Any(m => m.Name == "webhookconnect.test.work"),
                "the test counter at /v1/metrics");
        }

        // Stopping the host flushed every span; now the whole export can be judged.
        var spans = collector.Requests.Where(r => r.Path == "/v1/traces").SelectMany(r => OtlpProtobuf.ReadSpans(r.Body)).ToList();
        var operation = Assert.Single(spans, s => s.Name == "test-operation");
        var request = Assert.Single(spans, s => s.Scope == "Microsoft.AspNetCore" && s.SpanId == operation.ParentSpanId);
        Assert.Equal("otlp-test-service", operation.ServiceName);
        Assert.Equal(Telemetry.ActivitySourceName("Test"), operation.Scope);
        Assert.Equal(request.TraceId, operation.TraceId);
        Assert.Equal(OtlpProtobuf.SpanKindServer, request.Kind);
        Assert.Equal("GET /work", request.Name);
        Assert.Equal("/work", request.Attributes["url.path"]);
        Assert.Equal("200", request.Attributes["http.response.status_code"]);
        var failure = Assert.Single(spans, s => s.Scope == "Microsoft.AspNetCore" && s.Attributes.GetValueOrDefault("url.path") == "/fail/7");
        Assert.Equal("GET /fail/{id}", failure.Name);
        Assert.Equal("/fail/{id}", failure.Attributes["http.route"]);
        Assert.Equal("500", failure.Attributes["http.response.status_code"]);
        Assert.Equal("System.InvalidOperationException", failure.Attributes["error.type"]);
        // Probes are sampled out so they don't bury real traces.
        Assert.DoesNotContain(spans, s => s.Kind == OtlpProtobuf.SpanKindServer && s.Attributes.GetValueOrDefault("url.path") == "/healthz");

        var metrics = collector.Requests.Where(r => r.Path == "/v1/metrics").SelectMany(r => OtlpProtobuf.ReadMetrics(r.Body)).ToList();
        Assert.Contains(metrics, m => m.Name == "webhookconnect.test.work" && m.Scope == Telemetry.MeterName("Test") && m.ServiceName == "otlp-test-service");
        Assert.Contains(metrics, m => m.Name == "http.server.request.duration" && m.Scope == "Microsoft.AspNetCore.Hosting");
    }

    [Fact]
    public async Task LogLinesReachTheCollectorWithTheirTraceWhenTheEndpointIsConfigured()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        var (app, traffic) = await StartServiceAsync(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "100",
        });
        await using (app)
        using (traffic)
        {
            using var failed = await traffic.GetAsync("/fail/4711", Ct);
            Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        }

        // ASP.NET Core logs the unhandled exception; stopping the host flushed the log exporter.
        var logs = collector.Requests.Where(r => r.Path == "/v1/logs").ToList();
        Assert.NotEmpty(logs);
        Assert.All(logs, r => Assert.Equal("application/x-protobuf", r.ContentType));
        var spans = collector.Requests.Where(r => r.Path == "/v1/traces").SelectMany(r => OtlpProtobuf.ReadSpans(r.Body)).ToList();
        var failure = Assert.Single(spans, s => s.Attributes.GetValueOrDefault("url.path") == "/fail/4711");
        // A log record carries the message text and its trace id as bytes (protobuf strings and bytes fields).
        var record = Assert.Single(logs, r => r.Body.AsSpan().IndexOf("boom 4711"u8) >= 0);
        Assert.True(record.Body.AsSpan().IndexOf(Convert.FromHexString(failure.TraceId)) >= 0, "the log record names the failed request's trace id");
        Assert.True(record.Body.AsSpan().IndexOf("otlp-test-service"u8) >= 0, "the log record's resource names the service");
    }

    [Fact]
    public async Task NothingIsExportedWhenNoEndpointIsConfigured()
    {
        using var outgoing = new OutgoingHttpRecorder();
        var (app, traffic) = await StartServiceAsync(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = null,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        });
        await using (app)
        using (traffic)
        {
            Assert.Equal("worked", await traffic.GetStringAsync("/work", Ct));
        }

        // Stopping the host disposed the providers, and disposing flushes: an exporter, had there been one,
        // would have tried OpenTelemetry's default collector address by now.
        Assert.Contains($"127.0.0.1:{traffic.BaseAddress!.Port}", outgoing.Destinations);
        Assert.DoesNotContain(outgoing.Destinations, d => d.StartsWith("localhost:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SignalEndpointExportsOnlyThatSignalToItsExactUrl()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        using var outgoing = new OutgoingHttpRecorder();
        var (app, traffic) = await StartServiceAsync(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = null,
            ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = collector.Endpoint + "/custom/traces",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        });
        await using (app)
        using (traffic)
        {
            Assert.Equal("worked", await traffic.GetStringAsync("/work", Ct));
            await collector.WaitForAsync(
                r => r.Path == "/custom/traces" && OtlpProtobuf.ReadSpans(r.Body).Any(s => s.Name == "test-operation"),
                "the test span at the traces endpoint");
        }

        Assert.All(collector.Requests, r => Assert.Equal("/custom/traces", r.Path));
        Assert.DoesNotContain(outgoing.Destinations, d => d.StartsWith("localhost:", StringComparison.Ordinal));
    }
}

using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Connector.Delivery;
using WebhookConnect.Connector.Telemetry;
using WebhookConnect.TestKit;

namespace WebhookConnect.Connector.Tests;

/// <summary>
/// SPEC §9's local retry mapping as the target client (IHttpClientFactory + the resilience pipeline) implements it:
/// exact calls per status class, the delays, Retry-After, per-attempt timeouts and cancellation. The connector's own
/// delivery code and HTTP client against real Kestrel targets, in this process, so calls can be counted per delivery
/// and timed; <see cref="DeliveryTests"/> proves the same mapping through the binary and queue-manager.
/// </summary>
public sealed class LocalRetryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(200, DeliveryOutcome.Acked, 1)]
    [InlineData(201, DeliveryOutcome.Acked, 1)]
    [InlineData(204, DeliveryOutcome.Acked, 1)]
    [InlineData(400, DeliveryOutcome.Rejected, 1)]
    [InlineData(401, DeliveryOutcome.Rejected, 1)]
    [InlineData(404, DeliveryOutcome.Rejected, 1)]
    [InlineData(409, DeliveryOutcome.Rejected, 1)]
    [InlineData(422, DeliveryOutcome.Rejected, 1)]
    [InlineData(499, DeliveryOutcome.Rejected, 1)]
    [InlineData(408, DeliveryOutcome.Retry, 3)]
    [InlineData(429, DeliveryOutcome.Retry, 3)]
    [InlineData(500, DeliveryOutcome.Retry, 3)]
    [InlineData(502, DeliveryOutcome.Retry, 3)]
    [InlineData(503, DeliveryOutcome.Retry, 3)]
    [InlineData(504, DeliveryOutcome.Retry, 3)]
    [InlineData(599, DeliveryOutcome.Retry, 3)]
    [InlineData(301, DeliveryOutcome.Retry, 3)]
    [InlineData(302, DeliveryOutcome.Retry, 3)]
    [InlineData(307, DeliveryOutcome.Retry, 3)]
    public async Task EachStatusClassGetsItsExactNumberOfCallsWithTheDefaultTwoRetries(int status, DeliveryOutcome outcome, int calls)
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(status, status < 300 ? "" : "why");
        using var connector = Connector.Create(new LocalRetryOptions { Delay = TimeSpan.FromMilliseconds(10) });

        var result = await connector.DeliverAsync(target.Url());

        Assert.Equal(outcome, result.Outcome);
        Assert.Equal(status, result.StatusCode);
        Assert.Equal(status < 300 ? "" : $"HTTP {status}: why", result.Reason);
        Assert.Equal(calls, target.Count);
    }

    [Fact]
    public void TheDefaultsAreTwoRetriesAfter200MsThenDoubled()
    {
        var defaults = new LocalRetryOptions();
        Assert.Equal((2, TimeSpan.FromMilliseconds(200)), (defaults.Attempts, defaults.Delay));
    }

    [Fact]
    public async Task RetriesWaitTheDelayDoubledEachTimeWithoutJitter()
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(503);
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 3, Delay = TimeSpan.FromMilliseconds(300) });

        var result = await connector.DeliverAsync(target.Url());

        Assert.Equal(DeliveryOutcome.Retry, result.Outcome);
        var at = target.Requests.Select(r => r.At).ToList();
        Assert.Equal(4, at.Count);
        // 300, 600, 1200 ms. Jitter would put some waits below their delay; the upper bounds leave room for a busy
        // machine but not for the next doubling.
        Assert.InRange((at[1] - at[0]).TotalMilliseconds, 290, 599);
        Assert.InRange((at[2] - at[1]).TotalMilliseconds, 590, 1199);
        Assert.InRange((at[3] - at[2]).TotalMilliseconds, 1190, 2399);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public async Task ARetryAfterHeaderDoesNotStretchTheLocalRetries(int status)
    {
        var calls = 0;
        await using var target = await StartAsync(async context =>
        {
            Interlocked.Increment(ref calls);
            context.Response.StatusCode = status;
            context.Response.Headers.RetryAfter = "3600";
            await context.Response.WriteAsync("slow down");
        });
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 2, Delay = TimeSpan.FromMilliseconds(10) });

        var started = Stopwatch.GetTimestamp();
        var result = await connector.DeliverAsync(target.Url);

        // The cloud's backoff applies after the nack; locally the waits stay 10 and 20 ms.
        Assert.InRange(Stopwatch.GetElapsedTime(started), TimeSpan.Zero, TimeSpan.FromSeconds(10));
        Assert.Equal((DeliveryOutcome.Retry, $"HTTP {status}: slow down", 3), (result.Outcome, result.Reason, calls));
    }

    [Fact]
    public async Task WithZeroRetriesAFailedCallIsNackedAtOnce()
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(500);
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 0 });

        var result = await connector.DeliverAsync(target.Url());

        Assert.Equal((DeliveryOutcome.Retry, 500, 1), (result.Outcome, result.StatusCode, target.Count));
    }

    [Fact]
    public async Task ASuccessAfterFailuresAcksWithoutFurtherCalls()
    {
        await using var target = await TargetServer.StartAsync();
        var calls = 0;
        target.Answer = _ => Interlocked.Increment(ref calls) < 3 ? new TargetAnswer(502) : new TargetAnswer(200);
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 5, Delay = TimeSpan.FromMilliseconds(10) });

        var result = await connector.DeliverAsync(target.Url());

        Assert.Equal((DeliveryOutcome.Acked, 200, 3), (result.Outcome, result.StatusCode, target.Count));
    }

    [Fact]
    public async Task EachAttemptHasTheTargetsTimeoutAndATimedOutAttemptIsRetried()
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(200, Delay: TimeSpan.FromSeconds(20));
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 2, Delay = TimeSpan.FromMilliseconds(10) });

        var started = Stopwatch.GetTimestamp();
        var result = await connector.DeliverAsync(target.Url(), timeout: TimeSpan.FromMilliseconds(400));
        var elapsed = Stopwatch.GetElapsedTime(started);

        Assert.Equal((DeliveryOutcome.Retry, 0, "timeout after 0.4 s"), (result.Outcome, result.StatusCode, result.Reason));
        Assert.Equal(3, target.Count);
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(3 * 400), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ThereIsNoTotalTimeoutSoSlowAttemptsWithinTheirOwnTimeoutAllRun()
    {
        // Three attempts of 0.7 s each under a 1 s per-attempt timeout: 2.1 s in all, more than one timeout, and
        // none is cut off.
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(503, "busy", Delay: TimeSpan.FromMilliseconds(700));
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 2, Delay = TimeSpan.FromMilliseconds(10) });

        var result = await connector.DeliverAsync(target.Url(), timeout: TimeSpan.FromSeconds(1));

        Assert.Equal((DeliveryOutcome.Retry, 503, "HTTP 503: busy", 3), (result.Outcome, result.StatusCode, result.Reason, target.Count));
    }

    [Fact]
    public void TheClientAddsNoOverallTimeoutOfItsOwn()
    {
        // HttpClient's default (100 s) would cut off the retries of a target whose timeout is 60 s.
        using var connector = Connector.Create(new LocalRetryOptions());
        var client = connector.Services.GetRequiredService<IHttpClientFactory>().CreateClient(TargetHttpClient.Name);
        Assert.Equal(Timeout.InfiniteTimeSpan, client.Timeout);
    }

    [Fact]
    public async Task AConnectionThatBreaksIsRetriedLocallyThenNackedWithTheReason()
    {
        // A listener that accepts and closes at once: every attempt is a new connection that fails.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = 0;
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var socket = await listener.AcceptSocketAsync(stop.Token);
                Interlocked.Increment(ref accepted);
                socket.Close(0);
            }
        });
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 2, Delay = TimeSpan.FromMilliseconds(10) });

        var result = await connector.DeliverAsync($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/hook");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => accepting);

        Assert.Equal((DeliveryOutcome.Retry, 0), (result.Outcome, result.StatusCode));
        Assert.StartsWith("connection failed: ", result.Reason, StringComparison.Ordinal);
        Assert.Equal(3, accepted);
    }

    [Fact]
    public async Task ARefusedConnectionIsRetriedLocallyWithTheSocketsMessage()
    {
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 2, Delay = TimeSpan.FromMilliseconds(10) });
        var result = await connector.DeliverAsync($"http://127.0.0.1:{FreePort.Next()}/hook");
        Assert.Equal((DeliveryOutcome.Retry, 0, "connection failed: Connection refused"), (result.Outcome, result.StatusCode, result.Reason));
    }

    [Fact]
    public async Task ACancelledDeliveryStopsRetryingAndThrows()
    {
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(503);
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 5, Delay = TimeSpan.FromSeconds(2) });
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        var started = Stopwatch.GetTimestamp();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connector.DeliverAsync(target.Url(), cancellationToken: cancel.Token));

        Assert.InRange(Stopwatch.GetElapsedTime(started), TimeSpan.Zero, TimeSpan.FromSeconds(1.9));
        Assert.Equal(1, target.Count);
    }

    [Fact]
    public async Task EveryAttemptIsMeasuredOnceWithItsOutcome()
    {
        await using var target = await TargetServer.StartAsync();
        var calls = 0;
        target.Answer = _ => Interlocked.Increment(ref calls) switch
        {
            1 => new TargetAnswer(503),
            2 => new TargetAnswer(200, Delay: TimeSpan.FromSeconds(5)),
            _ => new TargetAnswer(404),
        };
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 3, Delay = TimeSpan.FromMilliseconds(10) });
        var measured = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "webhookconnect.connector.target_duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            lock (measured)
            {
                measured.Add($"{Tag(tags, "channel")}:{Tag(tags, "outcome")}");
            }
        });
        listener.Start();

        var result = await connector.DeliverAsync(target.Url(), timeout: TimeSpan.FromMilliseconds(500));

        Assert.Equal(DeliveryOutcome.Rejected, result.Outcome);
        Assert.Equal(["c:retry", "c:retry", "c:rejected"], measured);
    }

    [Fact]
    public async Task LocalRetriesWriteNoLogLinesOfTheirOwn()
    {
        // The nack is logged once with its reason (SubscriptionStream); the resilience pipeline's telemetry, which
        // would log every retried attempt as a warning, is off.
        await using var target = await TargetServer.StartAsync();
        target.Answer = _ => new TargetAnswer(503);
        var logged = new List<string>();
        using var connector = Connector.Create(new LocalRetryOptions { Attempts = 2, Delay = TimeSpan.FromMilliseconds(10) },
            services => services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(new CollectingLoggerProvider(logged))));

        var result = await connector.DeliverAsync(target.Url());

        Assert.Equal((DeliveryOutcome.Retry, 3), (result.Outcome, target.Count));
        lock (logged)
        {
            Assert.Empty(logged);
        }
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value as string;
            }
        }

        return null;
    }

    private static async Task<RawTarget> StartAsync(RequestDelegate handler)
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, port);
            k.RequestHeaderEncodingSelector = _ => System.Text.Encoding.Latin1; // the test message's obs-text header
        });
        var app = builder.Build();
        app.Run(handler);
        await app.StartAsync();
        return new RawTarget(app, $"http://127.0.0.1:{port}/hook");
    }

    /// <summary>A Kestrel target whose handler sets headers (<see cref="TargetServer"/> answers with a status and body only).</summary>
    private sealed record RawTarget(WebApplication App, string Url) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    /// <summary>The connector's delivery part with the service registrations it runs with.</summary>
    private sealed class Connector : IDisposable
    {
        private Connector(ServiceProvider services) => Services = services;

        public ServiceProvider Services { get; }

        public static Connector Create(LocalRetryOptions retry, Action<IServiceCollection>? configure = null)
        {
            var services = new ServiceCollection();
            configure?.Invoke(services);
            services.AddMetrics();
            services.AddSingleton(Options.Create(new ConnectorOptions { Retry = retry }));
            services.AddSingleton<ConnectorMetrics>();
            services.AddTargetHttpClient();
            services.AddSingleton<TargetDelivery>();
            return new Connector(services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true }));
        }

        public async Task<DeliveryResult> DeliverAsync(string url, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            var subscription = new SubscriptionOptions
            {
                Channel = "c",
                DefaultTarget = new TargetOptions { Url = url, Timeout = timeout ?? TimeSpan.FromSeconds(5) },
            };
            var message = TestMessages.NewMessage("c", "{}");
            return await Services.GetRequiredService<TargetDelivery>().DeliverAsync(message, subscription, cancellationToken).WaitAsync(Deadline);
        }

        public void Dispose() => Services.Dispose();
    }

    private sealed class CollectingLoggerProvider(List<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Collecting(categoryName, lines);

        public void Dispose()
        {
        }

        private sealed class Collecting(string category, List<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (lines)
                {
                    lines.Add($"{logLevel} {category}: {formatter(state, exception)}");
                }
            }
        }
    }
}

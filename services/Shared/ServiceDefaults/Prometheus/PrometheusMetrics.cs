using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace WebhookConnect.ServiceDefaults.Prometheus;

/// <summary>
/// Aggregates measurements from System.Diagnostics.Metrics and renders them as Prometheus text on demand
/// (the Prometheus exporter package is not available to us; see PLATFORM.md).
/// </summary>
internal sealed partial class PrometheusMetrics : IDisposable
{
    private readonly MeterListener _listener;
    private readonly MeterMatcher _meters;
    private readonly IMeterFactory _meterFactory;
    private readonly IReadOnlyList<double> _defaultBounds;
    private readonly ILogger<PrometheusMetrics> _logger;
    private readonly ConcurrentDictionary<Instrument, InstrumentAggregator> _aggregators = new();
    private readonly Lock _scrapeLock = new();
    private readonly StringBuilder _buffer = new(16 * 1024);
    private long _generation;
    private bool _started;

    public PrometheusMetrics(IReadOnlyList<string> meters, IReadOnlyList<double> defaultBounds, IMeterFactory meterFactory, ILogger<PrometheusMetrics> logger)
    {
        _meters = new MeterMatcher(meters);
        _defaultBounds = defaultBounds;
        _meterFactory = meterFactory;
        _logger = logger;
        _listener = new MeterListener
        {
            InstrumentPublished = OnInstrumentPublished,
            MeasurementsCompleted = (instrument, _) => _aggregators.TryRemove(instrument, out InstrumentAggregator? _),
        };
        _listener.SetMeasurementEventCallback<byte>(static (_, value, tags, state) => ((InstrumentAggregator)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, value, tags, state) => ((InstrumentAggregator)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentAggregator)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentAggregator)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((InstrumentAggregator)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentAggregator)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (_, value, tags, state) => ((InstrumentAggregator)state!).Record((double)value, tags));
    }

    public void Start()
    {
        lock (_scrapeLock)
        {
            if (!_started)
            {
                _started = true;
                _listener.Start();
            }
        }
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        var meter = instrument.Meter;
        // MeterListener sees every meter in the process; meters made by another host's IMeterFactory (several
        // hosts share a process in tests) belong to that host's /metrics, not ours.
        if (meter.Scope is not null && !ReferenceEquals(meter.Scope, _meterFactory))
        {
            return;
        }

        if (!_meters.Matches(meter.Name) || InstrumentAggregator.Create(instrument, _defaultBounds, CurrentGeneration) is not { } aggregator)
        {
            return;
        }

        _aggregators[instrument] = aggregator;
        listener.EnableMeasurementEvents(instrument, aggregator);
    }

    private long CurrentGeneration() => Volatile.Read(ref _generation);

    /// <summary>Collects observable instruments and renders everything; scrapes are serialised.</summary>
    public string Scrape()
    {
        lock (_scrapeLock)
        {
            Interlocked.Increment(ref _generation);
            try
            {
                _listener.RecordObservableInstruments();
            }
            catch (AggregateException ex)
            {
                // One broken callback must not hide every other metric.
                LogObservableCallbackFailed(ex.InnerExceptions.Count, ex.InnerException);
            }

            var generation = CurrentGeneration();
            _buffer.Clear();
            foreach (var family in _aggregators.Values.GroupBy(a => a.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                RenderFamily(_buffer, family.ToList(), generation);
            }

            return _buffer.ToString();
        }
    }

    private static void RenderFamily(StringBuilder sb, List<InstrumentAggregator> instruments, long generation)
    {
        var first = instruments[0];
        var series = new List<(InstrumentAggregator Instrument, KeyValuePair<TagSet, Series> Series)>();
        foreach (var instrument in instruments)
        {
            // Two instruments sharing a name but not a type cannot share a family; the first one wins.
            if (instrument.Type == first.Type)
            {
                series.AddRange(instrument.Snapshot(generation).Select(s => (instrument, s)));
            }
        }

        if (series.Count == 0)
        {
            return;
        }

        var name = first.Name;
        if (!string.IsNullOrEmpty(first.Instrument.Description))
        {
            sb.Append("# HELP ").Append(name).Append(' ');
            PrometheusText.AppendHelp(sb, first.Instrument.Description);
            sb.Append('\n');
        }

        sb.Append("# TYPE ").Append(name).Append(' ').Append(first.Type switch
        {
            PrometheusType.Counter => "counter",
            PrometheusType.Gauge => "gauge",
            _ => "histogram",
        }).Append('\n');

        foreach (var (instrument, (tags, value)) in series)
        {
            if (first.Type == PrometheusType.Histogram)
            {
                RenderHistogram(sb, name, instrument.Bounds!, tags.Labels, value);
            }
            else
            {
                sb.Append(name);
                AppendLabels(sb, tags.Labels, null);
                sb.Append(' ');
                PrometheusText.AppendNumber(sb, value.Value);
                sb.Append('\n');
            }
        }
    }

    private static void RenderHistogram(StringBuilder sb, string name, double[] bounds, string labels, Series series)
    {
        var counts = series.BucketCounts();
        long cumulative = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            cumulative += counts[i];
            sb.Append(name).Append("_bucket");
            AppendLabels(sb, labels, i < bounds.Length ? bounds[i] : double.PositiveInfinity);
            sb.Append(' ').Append(cumulative).Append('\n');
        }

        sb.Append(name).Append("_sum");
        AppendLabels(sb, labels, null);
        sb.Append(' ');
        PrometheusText.AppendNumber(sb, series.Value);
        sb.Append('\n');

        // The count is the +Inf bucket, so the two can never disagree even while samples arrive mid-scrape.
        sb.Append(name).Append("_count");
        AppendLabels(sb, labels, null);
        sb.Append(' ').Append(cumulative).Append('\n');
    }

    private static void AppendLabels(StringBuilder sb, string labels, double? le)
    {
        if (labels.Length == 0 && le is null)
        {
            return;
        }

        sb.Append('{').Append(labels);
        if (le is { } bound)
        {
            sb.Append(labels.Length > 0 ? ",le=\"" : "le=\"");
            PrometheusText.AppendNumber(sb, bound);
            sb.Append('"');
        }

        sb.Append('}');
    }

    public void Dispose() => _listener.Dispose();

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "{FailedCount} observable instrument callback(s) threw during a /metrics scrape")]
    private partial void LogObservableCallbackFailed(int failedCount, Exception? exception);
}

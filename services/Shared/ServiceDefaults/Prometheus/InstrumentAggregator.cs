using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace WebhookConnect.ServiceDefaults.Prometheus;

internal enum PrometheusType
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>How a measurement changes its series.</summary>
internal enum Aggregation
{
    /// <summary>Counter, UpDownCounter: measurements are increments.</summary>
    Sum,

    /// <summary>Gauge and every observable instrument: measurements are the current value (observable counters
    /// report their running total, not an increment).</summary>
    LastValue,

    /// <summary>Histogram: measurements are samples.</summary>
    Histogram,
}

/// <summary>All series of one instrument, keyed by tag set.</summary>
internal sealed class InstrumentAggregator
{
    /// <summary>Caps memory when a tag carries unbounded values (ids, URLs); later tag sets share one series.</summary>
    internal const int MaxSeries = 2000;

    private static readonly KeyValuePair<string, object?>[] OverflowTags = [new("otel_metric_overflow", true)];

    private readonly ConcurrentDictionary<TagSet, Series> _series = new(TagSetComparer.Instance);
    private readonly ConcurrentDictionary<TagSet, Series>.AlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>> _lookup;
    private readonly Func<long> _generation;
    private int _count;

    private InstrumentAggregator(Instrument instrument, PrometheusType type, Aggregation aggregation, double[]? bounds, Func<long> generation)
    {
        Instrument = instrument;
        Type = type;
        Aggregation = aggregation;
        Bounds = bounds;
        _generation = generation;
        Name = PrometheusText.MetricName(instrument.Name, instrument.Unit, type == PrometheusType.Counter);
        _lookup = _series.GetAlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>>();
    }

    public Instrument Instrument { get; }

    public string Name { get; }

    public PrometheusType Type { get; }

    public Aggregation Aggregation { get; }

    /// <summary>Histogram upper bounds, ascending, without +Inf.</summary>
    public double[]? Bounds { get; }

    /// <summary>Null for instrument kinds Prometheus has no type for.</summary>
    public static InstrumentAggregator? Create(Instrument instrument, IReadOnlyList<double> defaultBounds, Func<long> generation)
    {
        var type = instrument.GetType();
        var definition = type.IsGenericType ? type.GetGenericTypeDefinition() : null;
        if (definition == typeof(Counter<>))
        {
            return new(instrument, PrometheusType.Counter, Aggregation.Sum, null, generation);
        }

        if (definition == typeof(UpDownCounter<>))
        {
            return new(instrument, PrometheusType.Gauge, Aggregation.Sum, null, generation);
        }

        if (definition == typeof(ObservableCounter<>))
        {
            return new(instrument, PrometheusType.Counter, Aggregation.LastValue, null, generation);
        }

        if (definition == typeof(ObservableUpDownCounter<>) || definition == typeof(ObservableGauge<>) || definition == typeof(Gauge<>))
        {
            return new(instrument, PrometheusType.Gauge, Aggregation.LastValue, null, generation);
        }

        if (definition == typeof(Histogram<>))
        {
            var bounds = (AdvisedBounds(instrument) ?? defaultBounds).Where(b => !double.IsNaN(b) && !double.IsInfinity(b))
                .Distinct().Order().ToArray();
            return new(instrument, PrometheusType.Histogram, Aggregation.Histogram, bounds, generation);
        }

        return null;
    }

    private static IEnumerable<double>? AdvisedBounds(Instrument instrument) => instrument switch
    {
        Instrument<double> i => i.Advice?.HistogramBucketBoundaries,
        Instrument<float> i => i.Advice?.HistogramBucketBoundaries?.Select(b => (double)b),
        Instrument<long> i => i.Advice?.HistogramBucketBoundaries?.Select(b => (double)b),
        Instrument<int> i => i.Advice?.HistogramBucketBoundaries?.Select(b => (double)b),
        Instrument<short> i => i.Advice?.HistogramBucketBoundaries?.Select(b => (double)b),
        Instrument<byte> i => i.Advice?.HistogramBucketBoundaries?.Select(b => (double)b),
        Instrument<decimal> i => i.Advice?.HistogramBucketBoundaries?.Select(b => (double)b),
        _ => null,
    };

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var series = GetSeries(tags);
        switch (Aggregation)
        {
            case Aggregation.Sum:
                series.Add(value);
                break;
            case Aggregation.LastValue:
                series.Set(value, _generation());
                break;
            default:
                series.Observe(value, Bounds!);
                break;
        }
    }

    private Series GetSeries(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_lookup.TryGetValue(tags, out var series))
        {
            return series;
        }

        // A soft cap: racing threads may overshoot it by a few series, which is harmless.
        if (Volatile.Read(ref _count) >= MaxSeries)
        {
            tags = OverflowTags;
            if (_lookup.TryGetValue(tags, out series))
            {
                return series;
            }
        }

        var created = new Series(Bounds);
        if (_lookup.TryAdd(tags, created))
        {
            Interlocked.Increment(ref _count);
            return created;
        }

        // Another thread added the same tag set first.
        return _lookup.TryGetValue(tags, out series) ? series : created;
    }

    /// <summary>
    /// Series ordered by labels. For observable instruments only those reported in the current collection
    /// are returned, and the rest forgotten, so a gauge for a deleted channel disappears instead of freezing.
    /// </summary>
    public List<KeyValuePair<TagSet, Series>> Snapshot(long currentGeneration)
    {
        var result = new List<KeyValuePair<TagSet, Series>>(_series.Count);
        foreach (var entry in _series)
        {
            if (Instrument.IsObservable && entry.Value.Generation != currentGeneration)
            {
                if (_series.TryRemove(entry))
                {
                    Interlocked.Decrement(ref _count);
                }

                continue;
            }

            result.Add(entry);
        }

        result.Sort(static (a, b) => string.CompareOrdinal(a.Key.Labels, b.Key.Labels));
        return result;
    }
}

/// <summary>One time series. Updated lock-free: many request threads record into the same series.</summary>
internal sealed class Series(double[]? bounds)
{
    private readonly long[]? _buckets = bounds is null ? null : new long[bounds.Length + 1];
    private double _value;
    private long _generation;

    public long Generation => Volatile.Read(ref _generation);

    public double Value => Volatile.Read(ref _value);

    public void Add(double increment) => AddDouble(ref _value, increment);

    public void Set(double value, long generation)
    {
        Volatile.Write(ref _value, value);
        Volatile.Write(ref _generation, generation);
    }

    /// <summary>Histogram sample: <c>le</c> is inclusive, so a value equal to a bound counts in that bound's bucket.</summary>
    public void Observe(double value, double[] bounds)
    {
        if (double.IsNaN(value))
        {
            return;
        }

        var index = Array.BinarySearch(bounds, value);
        Interlocked.Increment(ref _buckets![index >= 0 ? index : ~index]);
        AddDouble(ref _value, value);
    }

    /// <summary>Non-cumulative counts per bucket, the last one being +Inf.</summary>
    public long[] BucketCounts()
    {
        var copy = new long[_buckets!.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = Volatile.Read(ref _buckets[i]);
        }

        return copy;
    }

    private static void AddDouble(ref double location, double increment)
    {
        var current = Volatile.Read(ref location);
        while (true)
        {
            var seen = Interlocked.CompareExchange(ref location, current + increment, current);
            // Compared as bits: NaN never equals itself, which would spin forever.
            if (BitConverter.DoubleToInt64Bits(seen) == BitConverter.DoubleToInt64Bits(current))
            {
                return;
            }

            current = seen;
        }
    }
}

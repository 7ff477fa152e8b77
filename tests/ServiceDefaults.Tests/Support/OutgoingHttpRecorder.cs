using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace WebhookConnect.ServiceDefaults.Tests.Support;

/// <summary>
/// Records the destination of every HttpClient request made in this process, failed ones included, through the
/// runtime's own <c>http.client.request.duration</c> instrument. Lets a test see an OTLP exporter trying the
/// default collector address without anything having to listen there.
/// </summary>
internal sealed class OutgoingHttpRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<string> _destinations = new();

    public OutgoingHttpRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "System.Net.Http" && instrument.Name == "http.client.request.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            object? address = null, port = null;
            foreach (var (key, value) in tags)
            {
                if (key == "server.address")
                {
                    address = value;
                }
                else if (key == "server.port")
                {
                    port = value;
                }
            }

            _destinations.Enqueue($"{address}:{port}");
        });
        _listener.Start();
    }

    public IReadOnlyList<string> Destinations => _destinations.ToArray();

    public void Dispose() => _listener.Dispose();
}

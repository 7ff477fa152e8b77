using System.Buffers;
using System.Text;
using Grpc.Core;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.QueueManager.Streams.Http1;

/// <summary>
/// Adapts a <c>text/event-stream</c> response to the Connect session: <c>event: connected</c>, <c>webhook</c>,
/// <c>heartbeat</c> and <c>error</c>. SSE has no client frames, so the reader only waits for the client to go away
/// (the request is aborted, the session ends and releases its leases at once). A write that does not complete
/// within the send timeout aborts the connection.
/// </summary>
public sealed class SseTransport(HttpContext http, StreamConnection connection, TimeSpan sendTimeout)
    : IAsyncStreamReader<ConnectRequest>, IServerStreamWriter<ConnectResponse>, IConnectFrameWriter
{
    private static readonly byte[] DataPrefix = "\ndata: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private readonly ArrayBufferWriter<byte> _out = new(4096);
    private bool _unflushed;

    public ConnectRequest Current => new();

    public WriteOptions? WriteOptions { get; set; }

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return false;
    }

    public Task WriteAsync(ConnectResponse message) => WriteAsync(message, 0, null, CancellationToken.None);

    public async Task WriteAsync(ConnectResponse? response, long sequence, string? notice, CancellationToken cancellationToken)
    {
        _out.ResetWrittenCount();
        switch (response?.FrameCase)
        {
            case ConnectResponse.FrameOneofCase.Subscribed:
                Event("connected");
                WireFormat.SseConnected(_out, connection.Id, connection.Channel);
                break;
            case ConnectResponse.FrameOneofCase.Delivery:
                Event("webhook");
                WireFormat.Webhook(_out, response.Delivery, sequence);
                break;
            case ConnectResponse.FrameOneofCase.Ping:
                Event("heartbeat");
                WireFormat.Heartbeat(_out, withType: false);
                break;
            case null when notice is not null:
                Event("error");
                _out.Write(ClientFrames.NoticeJson(notice, withType: false));
                break;
            default:
                // Draining: SSE has no such event (the stream's end says it); only flush what the burst left.
                break;
        }

        if (_out.WrittenCount > 0)
        {
            _out.Write(EventEnd);
        }

        // The session's write loop sets BufferHint while more frames wait in its buffer (a burst of deliveries): those
        // events are copied into the response and go out with the flush of the last one, instead of one flush (a
        // chunk and a send) per event. The unflushed bytes stay bounded: they count against the stream's buffer
        // budget until the flush completes (StreamConnection.WriteLoopAsync).
        http.Response.BodyWriter.Write(_out.WrittenSpan);
        _unflushed |= _out.WrittenCount > 0;
        if (_unflushed && (WriteOptions is not { } options || (options.Flags & WriteFlags.BufferHint) == 0))
        {
            await FlushTimedAsync(http, sendTimeout, cancellationToken);
            _unflushed = false;
        }
    }

    /// <summary>The whole of an SSE refusal that happens after the stream started (max_connections).</summary>
    public static async Task WriteErrorEventAsync(HttpContext http, string error)
    {
        Prepare(http);
        await http.Response.WriteAsync("event: error\ndata: {\"error\":\"" + error + "\"}\n\n", http.RequestAborted);
    }

    /// <summary>Status and headers of an event stream, flushed so the client sees them at once.</summary>
    public static void Prepare(HttpContext http)
    {
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
    }

    private void Event(string name)
    {
        _out.Write("event: "u8);
        _out.Write(Encoding.ASCII.GetBytes(name));
        _out.Write(DataPrefix);
    }

    private static async Task FlushTimedAsync(HttpContext http, TimeSpan sendTimeout, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(sendTimeout);
        try
        {
            await http.Response.BodyWriter.FlushAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            http.Abort();
            throw new IOException($"the connector did not read for {sendTimeout.TotalSeconds:0} s (QueueManager:HttpSendTimeout); disconnected");
        }
    }
}

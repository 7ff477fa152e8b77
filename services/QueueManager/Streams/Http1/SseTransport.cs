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
                return;
        }

        _out.Write(EventEnd);
        await WriteTimedAsync(http, _out.WrittenMemory, sendTimeout, cancellationToken);
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

    private static async Task WriteTimedAsync(HttpContext http, ReadOnlyMemory<byte> bytes, TimeSpan sendTimeout, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(sendTimeout);
        try
        {
            await http.Response.Body.WriteAsync(bytes, timeout.Token);
            await http.Response.Body.FlushAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            http.Abort();
            throw new IOException($"the connector did not read for {sendTimeout.TotalSeconds:0} s (QueueManager:HttpSendTimeout); disconnected");
        }
    }
}

using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace WebhookConnect.TestKit.Services;

/// <summary>
/// A WebSocket connector written from the protocol description of issue 16 (not from the server's code), with the
/// BCL's <see cref="ClientWebSocket"/>: <c>GET /connect/stream/{channel}</c> with <c>Authorization: Bearer</c>, JSON
/// text frames both ways. Every frame the server sends is kept, in order; the close status once the server closes.
/// </summary>
public sealed class WebSocketTestConnector : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly ClientWebSocket _socket;
    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly TaskCompletionSource<(WebSocketCloseStatus? Status, string? Description)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _send = new(1, 1);
    private Task? _reader;

    private WebSocketTestConnector(ClientWebSocket socket) => _socket = socket;

    /// <summary>The <c>connected</c> frame.</summary>
    public JsonElement Connected { get; private set; }

    public string ConnectionId => Connected.GetProperty("connection_id").GetString()!;

    /// <summary>The server's close status and description (null status: the connection dropped without a close).</summary>
    public Task<(WebSocketCloseStatus? Status, string? Description)> Closed => _closed.Task;

    public static Uri StreamUri(Uri httpAddress, string channel, string suffix = "", string query = "")
    {
        var ws = httpAddress.Scheme == "https" ? "wss" : "ws";
        return new Uri($"{ws}://{httpAddress.Authority}/connect/stream/{Uri.EscapeDataString(channel)}{suffix}{query}");
    }

    /// <summary>Connects and waits for the <c>connected</c> frame (or the server's close, e.g. 4003).</summary>
    public static async Task<WebSocketTestConnector> ConnectAsync(Uri httpAddress, string channel, string? token, string? connectorId = "ws-test", string query = "", bool read = true)
    {
        var socket = new ClientWebSocket();
        if (token is not null)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }

        if (connectorId is not null)
        {
            socket.Options.SetRequestHeader("X-Connector-ID", connectorId);
        }

        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(Patience);
        await socket.ConnectAsync(StreamUri(httpAddress, channel, query: query), timeout.Token);
        var connector = new WebSocketTestConnector(socket);
        if (read)
        {
            connector._reader = connector.ReadLoopAsync();
            var first = await Task.WhenAny(connector._frames.Reader.WaitToReadAsync().AsTask(), connector._closed.Task).WaitAsync(Patience);
            if (connector._frames.Reader.TryRead(out var connected))
            {
                connector.Connected = connected;
            }
        }

        return connector;
    }

    /// <summary>The HTTP status of a refused handshake (the server answered without upgrading).</summary>
    public static async Task<int> RefusedHandshakeAsync(Uri httpAddress, string channel, string? token, string query = "")
    {
        using var socket = new ClientWebSocket();
        if (token is not null)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }

        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(Patience);
        try
        {
            await socket.ConnectAsync(StreamUri(httpAddress, channel, query: query), timeout.Token);
        }
        catch (WebSocketException)
        {
            return (int)socket.HttpStatusCode;
        }

        throw new InvalidOperationException("the handshake succeeded; expected a refusal");
    }

    /// <summary>The next frame of <paramref name="type"/>, skipping heartbeats (and, unless asked for, errors).</summary>
    public async Task<JsonElement> NextAsync(string type = "webhook", TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? Patience);
        while (true)
        {
            JsonElement frame;
            try
            {
                frame = await _frames.Reader.ReadAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no '{type}' frame within {(timeout ?? Patience).TotalSeconds} s");
            }
            catch (ChannelClosedException)
            {
                var (status, description) = await _closed.Task;
                throw new InvalidOperationException($"the server closed the WebSocket ({status} {description}) before a '{type}' frame");
            }

            if (frame.GetProperty("type").GetString() == type)
            {
                return frame;
            }
        }
    }

    public async Task<List<JsonElement>> TakeAsync(int count, string type = "webhook")
    {
        var frames = new List<JsonElement>(count);
        for (var i = 0; i < count; i++)
        {
            frames.Add(await NextAsync(type));
        }

        return frames;
    }

    /// <summary>True when no frame of <paramref name="type"/> arrives within <paramref name="window"/>.</summary>
    public async Task<bool> NothingWithinAsync(TimeSpan window, string type = "webhook")
    {
        try
        {
            await NextAsync(type, window);
            return false;
        }
        catch (TimeoutException)
        {
            return true;
        }
    }

    public Task AckAsync(string messageId) => SendJsonAsync(new { type = "ack", message_id = messageId });

    public Task NackAsync(string messageId, bool? retry) =>
        retry is null ? SendJsonAsync(new { type = "nack", message_id = messageId }) : SendJsonAsync(new { type = "nack", message_id = messageId, retry });

    public Task SendJsonAsync(object frame) => SendTextAsync(JsonSerializer.Serialize(frame));

    public Task SendTextAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    public async Task SendAsync(byte[] bytes, WebSocketMessageType type)
    {
        await _send.WaitAsync();
        try
        {
            using var timeout = new CancellationTokenSource(Patience);
            await _socket.SendAsync(bytes, type, endOfMessage: true, timeout.Token);
        }
        finally
        {
            _send.Release();
        }
    }

    /// <summary>Closes with a close handshake (the polite way).</summary>
    public async Task CloseAsync()
    {
        using var timeout = new CancellationTokenSource(Patience);
        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
    }

    /// <summary>Drops the TCP connection without a close frame.</summary>
    public void Abort() => _socket.Abort();

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[1 << 20];
        try
        {
            while (true)
            {
                var length = 0;
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult((result.CloseStatus, result.CloseStatusDescription));
                    return;
                }

                using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
                await _frames.Writer.WriteAsync(document.RootElement.Clone());
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            _closed.TrySetResult((null, ex.Message));
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Abort();
        if (_reader is not null)
        {
            await Task.WhenAny(_reader, Task.Delay(Patience));
        }

        _socket.Dispose();
        _send.Dispose();
    }
}

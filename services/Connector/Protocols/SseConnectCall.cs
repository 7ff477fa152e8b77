using System.Net.Http.Headers;
using System.Text;
using Grpc.Core;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Protocols;

/// <summary>
/// The SSE connector protocol (issue 16: <c>GET /connect/stream/{channel}/sse</c>) as an <see cref="IConnectCall"/>:
/// events <c>connected</c>, <c>webhook</c>, <c>heartbeat</c> and <c>error</c> come down the <c>text/event-stream</c>;
/// acks and nacks go up as <c>POST /connect/ack</c> with this stream's connection id.
/// </summary>
/// <remarks>
/// Hand-written event parsing (the BCL's <c>System.Net.ServerSentEvents.SseParser</c> lives in a package the registry
/// copy may not serve; the format is a few lines: <c>event:</c>, <c>data:</c> joined by newlines, a blank line ends an
/// event, <c>:</c> starts a comment). A line longer than <see cref="WebSocketConnectCall.MaxFrameBytes"/> ends the
/// connection (bounded memory). As on WebSocket, webhooks that arrive after the drain started are nacked with retry.
/// </remarks>
public sealed class SseConnectCall : IConnectCall, IAsyncStreamReader<ConnectResponse>
{
    private readonly Http1Endpoint _endpoint;
    private readonly string _channel;
    private readonly string _token;
    private readonly string _connectorId;
    private readonly CancellationToken _cancel;
    private readonly Task _opened;
    private readonly HttpAcks _acks;
    private HttpResponseMessage? _response;
    private StreamReader? _reader;
    private string _connectionId = "";
    private uint _maxInFlight;
    private volatile bool _stopping;
    private bool _completed;

    public SseConnectCall(Http1Endpoint endpoint, string channel, string token, string connectorId, CancellationToken cancel, ILogger? logger = null)
    {
        _endpoint = endpoint;
        _channel = channel;
        _token = token;
        _connectorId = connectorId;
        _cancel = cancel;
        _acks = new HttpAcks(endpoint, token, logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        _opened = OpenAsync();
    }

    public string Protocol => ConnectProtocols.Sse;

    public IAsyncStreamReader<ConnectResponse> ResponseStream => this;

    public ConnectResponse Current { get; private set; } = null!;

    private async Task OpenAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _endpoint.Path($"connect/stream/{Uri.EscapeDataString(_channel)}/sse"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (_connectorId.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("X-Connector-ID", _connectorId);
        }

        try
        {
            _response = await _endpoint.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _cancel);
        }
        catch (HttpRequestException ex)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "SSE request failed: " + ex.Message, ex));
        }

        if (!_response.IsSuccessStatusCode)
        {
            var body = await _response.Content.ReadAsStringAsync(_cancel);
            throw Http1Status.FromHttp(_response.StatusCode, body.Length > 300 ? body[..300] : body);
        }

        _reader = new StreamReader(await _response.Content.ReadAsStreamAsync(_cancel), Encoding.UTF8);
    }

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        await _opened;
        var type = "message";
        var data = new StringBuilder();
        while (true)
        {
            string? line;
            try
            {
                line = await _reader!.ReadLineAsync(_cancel);
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "SSE stream lost: " + ex.Message, ex));
            }

            if (line is null)
            {
                // The server ended the stream (drain, or it went away): reconnect, unless we asked for it.
                if (_completed)
                {
                    return false;
                }

                throw new RpcException(new Status(StatusCode.Unavailable, "SSE stream ended by queue-manager"));
            }

            if (data.Length > WebSocketConnectCall.MaxFrameBytes)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, "queue-manager sent an SSE event over the size limit"));
            }

            if (line.Length == 0)
            {
                if (data.Length == 0)
                {
                    continue;
                }

                var response = await OnEventAsync(type, data.ToString());
                type = "message";
                data.Clear();
                if (response is not null)
                {
                    Current = response;
                    return true;
                }

                continue;
            }

            if (line[0] == ':')
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            if (field == "event")
            {
                type = value;
            }
            else if (field == "data")
            {
                if (data.Length > 0)
                {
                    data.Append('\n');
                }

                data.Append(value);
            }
        }
    }

    private async Task<ConnectResponse?> OnEventAsync(string type, string data)
    {
        if (type is not ("connected" or "webhook" or "error"))
        {
            return null; // heartbeat (nothing to answer on SSE) and events a newer server may add.
        }

        using var document = Http1Messages.Parse(Encoding.UTF8.GetBytes(data), out _);
        var root = document.RootElement;
        switch (type)
        {
            case "connected":
                _connectionId = Http1Messages.Text(root, "connection_id") ?? "";
                return new ConnectResponse { Subscribed = Http1Messages.Subscribed(root, _maxInFlight) };
            case "webhook":
                var message = Http1Messages.Webhook(root, _channel);
                if (_stopping)
                {
                    await _acks.NackAsync(new Nack { MessageId = message.MessageId, Retry = true, Reason = "connector stopping" }, _connectionId, _cancel);
                    return null;
                }

                return new ConnectResponse { Delivery = new Contracts.V1.Delivery { Message = message } };
            default: // error: the stream ends (e.g. max_connections_reached)
                throw Http1Status.FromHttp(System.Net.HttpStatusCode.ServiceUnavailable, Http1Messages.Text(root, "error"));
        }
    }

    public async Task WriteAsync(ConnectRequest frame, bool more)
    {
        await _opened;
        switch (frame.FrameCase)
        {
            case ConnectRequest.FrameOneofCase.Subscribe:
                _maxInFlight = frame.Subscribe.MaxInFlight;
                break;
            case ConnectRequest.FrameOneofCase.Ack:
                await _acks.AckAsync(frame.Ack.MessageIds.Select(id => (id, _connectionId)), frame.Ack.Reports, _cancel);
                break;
            case ConnectRequest.FrameOneofCase.Nack:
                await _acks.NackAsync(frame.Nack, _connectionId, _cancel);
                break;
            case ConnectRequest.FrameOneofCase.StopDeliveries:
                _stopping = true;
                break;
        }
    }

    /// <summary>SSE has no half-close: closing the response ends the connection, and queue-manager releases what is
    /// still leased to it (nothing, after a drain).</summary>
    public Task CompleteAsync()
    {
        _completed = true;
        _response?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _response?.Dispose();
        _reader?.Dispose();
    }
}

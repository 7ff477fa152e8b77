using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace WebhookConnect.TestKit.Services;

/// <summary>
/// An SSE connector written from issue 16's protocol description: <c>GET /connect/stream/{channel}/sse</c> with
/// <c>Authorization: Bearer</c>, <c>text/event-stream</c> events (<c>event:</c> name, <c>data:</c> JSON) read with a
/// plain <see cref="HttpClient"/>. <see cref="Ended"/> completes when the server ends the stream.
/// </summary>
public sealed class SseTestConnector : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<(string Event, JsonElement Data)> _events = Channel.CreateUnbounded<(string, JsonElement)>();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reader;

    private SseTestConnector(HttpClient http, HttpResponseMessage response)
    {
        _http = http;
        _response = response;
        _reader = ReadAsync();
    }

    public HttpResponseMessage Response => _response;

    public Task Ended => _ended.Task;

    /// <summary>Opens the stream; the response may be a refusal (401, 404), then no event is read.</summary>
    public static async Task<SseTestConnector> ConnectAsync(Uri httpAddress, string channel, string? token)
    {
        var http = new HttpClient { BaseAddress = httpAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/connect/stream/{Uri.EscapeDataString(channel)}/sse");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        request.Headers.Add("X-Connector-ID", "sse-test");
        using var timeout = new CancellationTokenSource(WebSocketTestConnector.Patience);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        return new SseTestConnector(http, response);
    }

    public async Task<JsonElement> NextAsync(string name = "webhook", TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? WebSocketTestConnector.Patience);
        while (true)
        {
            try
            {
                var (eventName, data) = await _events.Reader.ReadAsync(cancel.Token);
                if (eventName == name)
                {
                    return data;
                }
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no '{name}' event within {(timeout ?? WebSocketTestConnector.Patience).TotalSeconds} s");
            }
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            if (!_response.IsSuccessStatusCode)
            {
                return;
            }

            using var reader = new StreamReader(await _response.Content.ReadAsStreamAsync(_stop.Token), Encoding.UTF8);
            string? name = null;
            var data = new StringBuilder();
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (name is not null)
                    {
                        using var document = JsonDocument.Parse(data.ToString());
                        await _events.Writer.WriteAsync((name, document.RootElement.Clone()));
                    }

                    (name, data) = (null, new StringBuilder());
                }
                else if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data.Append(line["data: ".Length..]);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or HttpRequestException)
        {
            // Dropped by the test or the server.
        }
        finally
        {
            _events.Writer.TryComplete();
            _ended.TrySetResult();
        }
    }

    /// <summary>Drops the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _response.Dispose();
        await Task.WhenAny(_reader, Task.Delay(WebSocketTestConnector.Patience));
        _http.Dispose();
        _stop.Dispose();
    }
}

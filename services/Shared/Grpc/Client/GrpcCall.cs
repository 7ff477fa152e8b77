using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using WebhookConnect.Grpc.Protocol;

namespace WebhookConnect.Grpc.Client;

/// <summary>
/// One client call on one HTTP/2 stream. The call ends exactly once, with the first of: the server's status,
/// a local failure, the deadline, the caller's cancellation or disposal. Ending for a local reason cancels the
/// HTTP request, which resets the stream (RST_STREAM) so the server's handler sees the cancellation.
/// </summary>
internal sealed class GrpcCall<TRequest, TResponse> : ICallState
    where TRequest : class
    where TResponse : class
{
    private static readonly MediaTypeHeaderValue GrpcContentType = new(GrpcProtocol.ContentType);

    /// <summary>How long a failed request write waits for the server's status before giving up on it.</summary>
    private static readonly TimeSpan StatusGraceAfterWriteFailure = TimeSpan.FromSeconds(1);

    private readonly GrpcChannel _channel;
    private readonly Method<TRequest, TResponse> _method;
    private readonly CallOptions _options;
    private readonly string? _host;
    private readonly bool _expectsOneResponse;
    private readonly CancellationTokenSource _cts = new();
    private readonly TaskCompletionSource<Metadata> _headers = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Outcome> _outcomeSource = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private CancellationTokenRegistration _userCancellation;
    private Timer? _deadlineTimer;
    private HttpResponseMessage? _response;
    private MessageReader? _reader;
    private StreamingRequestContent? _requestContent;
    private volatile Outcome? _outcome;
    private int _reading;
    private int _responsesRead;

    public GrpcCall(GrpcChannel channel, Method<TRequest, TResponse> method, CallOptions options, string? host)
    {
        _channel = channel;
        _method = method;
        _options = options;
        _host = host;
        _expectsOneResponse = method.Type is MethodType.Unary or MethodType.ClientStreaming;
        _headers.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    public Task<Metadata> ResponseHeadersAsync => _headers.Task;

    public Status GetStatus() => _outcome?.Status ?? throw new InvalidOperationException("Unable to get the status because the call is not complete.");

    public Metadata GetTrailers() => _outcome?.Trailers ?? throw new InvalidOperationException("Unable to get the trailers because the call is not complete.");

    public void StartWithRequest(TRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            new MessageWriter(_channel.Options.MaxSendMessageSize, _channel.CompressRequests)
                .Write(buffer, request, _method.RequestMarshaller.ContextualSerializer, AllowsCompression(_options.WriteOptions));
        }
        catch (RpcException ex)
        {
            Finish(ex.Status, Metadata.Empty);
            return;
        }

        var content = new ReadOnlyMemoryContent(buffer.WrittenMemory);
        content.Headers.ContentType = GrpcContentType;
        Start(content);
    }

    public ClientStreamWriter<TRequest, TResponse> StartStreaming()
    {
        _requestContent = new StreamingRequestContent();
        _requestContent.Headers.ContentType = GrpcContentType;
        Start(_requestContent);
        return new ClientStreamWriter<TRequest, TResponse>(this, _requestContent, _method.RequestMarshaller, new MessageWriter(_channel.Options.MaxSendMessageSize, _channel.CompressRequests))
        {
            WriteOptions = _options.WriteOptions,
        };
    }

    public static bool AllowsCompression(WriteOptions? options) => (options?.Flags & WriteFlags.NoCompress) != WriteFlags.NoCompress;

    /// <summary>Reads the one response of a unary or client-streaming call, then the status.</summary>
    public async Task<TResponse> ReadSingleResponseAsync()
    {
        var (hasMessage, response) = await ReadMessageAsync(CancellationToken.None).ConfigureAwait(false);
        if (!hasMessage)
        {
            // Unreachable: an OK end without a message is turned into INTERNAL when the status arrives.
            throw new RpcException(GetStatus(), GetTrailers());
        }

        var (extra, _) = await ReadMessageAsync(CancellationToken.None).ConfigureAwait(false);
        if (extra)
        {
            throw Fail(new Status(StatusCode.Internal, "The server sent more than one response message to a call that expects one."));
        }

        return response;
    }

    /// <summary>Reads the next response; false once the server ended the call with OK. Non-OK ends throw <see cref="RpcException"/>.</summary>
    public async Task<(bool HasMessage, TResponse Message)> ReadMessageAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _reading, 1) == 1)
        {
            throw new InvalidOperationException("Can't read the next message because the previous read is still in progress (one reader per stream).");
        }

        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.Register(static state => ((GrpcCall<TRequest, TResponse>)state!).Cancel(new Status(StatusCode.Cancelled, "Call canceled by the client.")), this)
            : default;
        try
        {
            await _ready.Task.ConfigureAwait(false);
            if (_reader is null)
            {
                return EndOfCall();
            }

            try
            {
                var result = await _reader.ReadAsync(_method.ResponseMarshaller.ContextualDeserializer, _cts.Token).ConfigureAwait(false);
                if (result.HasMessage)
                {
                    _responsesRead++;
                    return result;
                }
            }
            catch (Exception) when (_outcome is not null)
            {
                return EndOfCall();
            }
            catch (RpcException ex)
            {
                throw Fail(ex.Status);
            }
            catch (Exception ex)
            {
                throw Fail(StatusFromException(ex, "Error reading the next message."));
            }

            ReadTrailers();
            return EndOfCall();
        }
        finally
        {
            Volatile.Write(ref _reading, 0);
        }
    }

    /// <summary>Waits until the request stream may be written; throws when the call already ended.</summary>
    public async Task<Stream> GetRequestStreamAsync(StreamingRequestContent content)
    {
        ThrowIfEnded();
        try
        {
            return await content.RequestStream.WaitAsync(_cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            ThrowIfEnded();
            throw;
        }
    }

    /// <summary>
    /// Turns a failed request write into the exception the writer sees. When the server has ended the call, HTTP
    /// refuses further request data before the reader has processed the server's status; that status, not the
    /// write error, is the call's outcome, so the call is left for the reader to finish.
    /// </summary>
    public async Task<Exception> WriteFailedAsync(Exception ex, CancellationToken writeToken)
    {
        if (_outcome is null && writeToken.IsCancellationRequested)
        {
            Cancel(new Status(StatusCode.Cancelled, "Call canceled by the client."));
        }

        try
        {
            var outcome = await _outcomeSource.Task.WaitAsync(StatusGraceAfterWriteFailure).ConfigureAwait(false);
            return outcome.Status.StatusCode == StatusCode.OK
                ? new InvalidOperationException("Can't write the message because the call is complete.", ex)
                : new RpcException(outcome.Status, outcome.Trailers);
        }
        catch (TimeoutException)
        {
            return new InvalidOperationException("Can't write the message because the server closed the request stream; read the response stream for the call's status.", ex);
        }
    }

    public void ThrowIfEnded()
    {
        if (_outcome is { } outcome)
        {
            if (outcome.Status.StatusCode == StatusCode.OK)
            {
                throw new InvalidOperationException("Can't write the message because the call is complete.");
            }

            throw new RpcException(outcome.Status, outcome.Trailers);
        }
    }

    public void Dispose()
    {
        Cancel(new Status(StatusCode.Cancelled, "gRPC call disposed."));
        _deadlineTimer?.Dispose();
        _userCancellation.Dispose();
    }

    private void Start(HttpContent content)
    {
        if (_options.CancellationToken.IsCancellationRequested)
        {
            Finish(new Status(StatusCode.Cancelled, "Call canceled by the client."), Metadata.Empty);
            return;
        }

        TimeSpan? timeout = null;
        if (_options.Deadline is { } deadline && deadline != DateTime.MaxValue)
        {
            timeout = deadline.ToUniversalTime() - DateTime.UtcNow;
            if (timeout <= TimeSpan.Zero)
            {
                Finish(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"), Metadata.Empty);
                return;
            }

            if (timeout < TimeSpan.FromDays(40))
            {
                _deadlineTimer = new Timer(static state => ((GrpcCall<TRequest, TResponse>)state!).Cancel(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded")), this, timeout.Value, Timeout.InfiniteTimeSpan);
            }
        }

        if (_options.CancellationToken.CanBeCanceled)
        {
            _userCancellation = _options.CancellationToken.Register(static state => ((GrpcCall<TRequest, TResponse>)state!).Cancel(new Status(StatusCode.Cancelled, "Call canceled by the client.")), this);
        }

        _ = SendAsync(CreateRequest(content, timeout));
    }

    private HttpRequestMessage CreateRequest(HttpContent content, TimeSpan? timeout)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_channel.Address, _method.FullName))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        var headers = request.Headers;
        headers.TryAddWithoutValidation("te", "trailers");
        headers.TryAddWithoutValidation("user-agent", GrpcProtocol.UserAgent);
        headers.TryAddWithoutValidation(GrpcProtocol.AcceptEncodingHeader, GrpcProtocol.AcceptEncodingValue);
        if (_channel.CompressRequests)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.EncodingHeader, "gzip");
        }

        if (timeout is { } t)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcProtocol.FormatTimeout(t));
        }

        if (_host is not null)
        {
            headers.Host = _host;
        }

        if (_options.Headers is { } metadata)
        {
            foreach (var entry in metadata)
            {
                if (GrpcProtocol.IsReservedHeader(entry.Key))
                {
                    continue;
                }

                headers.TryAddWithoutValidation(entry.Key, entry.IsBinary ? GrpcProtocol.EncodeBinaryHeader(entry.ValueBytes) : entry.Value);
            }
        }

        return request;
    }

    private async Task SendAsync(HttpRequestMessage request)
    {
        try
        {
            HttpResponseMessage response;
            try
            {
                response = await _channel.Invoker.SendAsync(request, _cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Finish(StatusFromException(ex, "Error starting gRPC call."), Metadata.Empty);
                return;
            }

            lock (_lock)
            {
                if (_outcome is not null)
                {
                    response.Dispose();
                    return;
                }

                _response = response;
            }

            var headerMetadata = ReadMetadata(response.Headers);
            var statusValue = GetHeader(response.Headers, GrpcProtocol.StatusHeader);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                var status = statusValue is not null
                    ? new Status(GrpcProtocol.ParseStatusCode(statusValue), GrpcProtocol.DecodeStatusMessage(GetHeader(response.Headers, GrpcProtocol.MessageHeader)))
                    : new Status(GrpcProtocol.StatusFromHttpStatus((int)response.StatusCode), $"Bad gRPC response. HTTP status code: {(int)response.StatusCode}.");
                Finish(status, headerMetadata);
                return;
            }

            if (statusValue is not null)
            {
                // Trailers-Only: the status came in the headers and there is no body.
                _headers.TrySetResult(headerMetadata);
                FinishFromServer(statusValue, GetHeader(response.Headers, GrpcProtocol.MessageHeader), headerMetadata);
                return;
            }

            var contentType = response.Content.Headers.ContentType?.MediaType;
            if (!GrpcProtocol.IsGrpcContentType(contentType))
            {
                Finish(new Status(StatusCode.Internal, $"Bad gRPC response. Invalid content-type value: '{contentType}'."), headerMetadata);
                return;
            }

            var stream = await response.Content.ReadAsStreamAsync(_cts.Token).ConfigureAwait(false);
            var encoding = GetHeader(response.Headers, GrpcProtocol.EncodingHeader);
            _reader = new MessageReader(PipeReader.Create(stream), _channel.Options.MaxReceiveMessageSize, encoding is null or "identity" ? null : encoding);
            _headers.TrySetResult(headerMetadata);
        }
        catch (Exception ex)
        {
            Finish(StatusFromException(ex, "Error starting gRPC call."), Metadata.Empty);
        }
        finally
        {
            _ready.TrySetResult();
        }
    }

    private void ReadTrailers()
    {
        var trailers = _response!.TrailingHeaders;
        var statusValue = GetHeader(trailers, GrpcProtocol.StatusHeader);
        if (statusValue is null)
        {
            Finish(new Status(StatusCode.Internal, "The server ended the response without a grpc-status trailer."), ReadMetadata(trailers));
            return;
        }

        FinishFromServer(statusValue, GetHeader(trailers, GrpcProtocol.MessageHeader), ReadMetadata(trailers));
    }

    private void FinishFromServer(string statusValue, string? message, Metadata trailers)
    {
        var status = new Status(GrpcProtocol.ParseStatusCode(statusValue), GrpcProtocol.DecodeStatusMessage(message));
        if (status.StatusCode == StatusCode.OK && _expectsOneResponse && _responsesRead == 0)
        {
            // PROTOCOL-HTTP2: a unary response without a message is a server error, whatever status it claims.
            status = new Status(StatusCode.Internal, "The server ended the call with OK but sent no response message.");
        }

        Finish(status, trailers);
    }

    private (bool, TResponse) EndOfCall()
    {
        var outcome = _outcome!;
        if (outcome.Status.StatusCode != StatusCode.OK)
        {
            throw new RpcException(outcome.Status, outcome.Trailers);
        }

        return (false, default!);
    }

    /// <summary>Ends the call locally with a non-OK status and returns the exception to throw.</summary>
    private RpcException Fail(Status status)
    {
        Cancel(status);
        var outcome = _outcome!;
        return new RpcException(outcome.Status, outcome.Trailers);
    }

    /// <summary>Ends the call for a local reason and resets the HTTP/2 stream.</summary>
    private void Cancel(Status status)
    {
        if (!Finish(status, Metadata.Empty, cancelledLocally: true))
        {
            return;
        }

        _cts.Cancel();
        HttpResponseMessage? response;
        lock (_lock)
        {
            response = _response;
        }

        // Disposing an unfinished response stream sends RST_STREAM(CANCEL) to the server. Only then is the request
        // body ended, and by failing it: a clean end first would reach the server as a half-close, and a handler
        // reading requests would finish normally instead of seeing the cancellation.
        response?.Dispose();
        _requestContent?.Abort();
    }

    private bool Finish(Status status, Metadata trailers, bool cancelledLocally = false)
    {
        Outcome outcome;
        lock (_lock)
        {
            if (_outcome is not null)
            {
                return false;
            }

            outcome = new Outcome(status, trailers);
            _outcome = outcome;
        }

        // Release everything that could keep this call reachable: a long-lived caller token must not
        // accumulate registrations of finished calls that nobody disposed.
        _userCancellation.Unregister();
        _deadlineTimer?.Dispose();
        if (!cancelledLocally)
        {
            _requestContent?.Complete();
        }

        _headers.TrySetException(new RpcException(status, trailers));
        _ready.TrySetResult();
        _outcomeSource.TrySetResult(outcome);
        if (status.StatusCode == StatusCode.OK)
        {
            // A call that ended locally disposes the response after cancelling the request (see Cancel).
            _response?.Dispose();
        }

        return true;
    }

    private Status StatusFromException(Exception ex, string context) => (FindProtocolException(ex) ?? ex) switch
    {
        _ when _outcome is { } outcome => outcome.Status,

        // SocketsHttpHandler reports an unanswered keepalive PING as a locally raised PROTOCOL_ERROR; the peer is
        // gone, which gRPC calls UNAVAILABLE (the message is the only thing that tells it from a real one).
        HttpProtocolException protocol when protocol.Message.Contains("ping", StringComparison.OrdinalIgnoreCase) =>
            new Status(StatusCode.Unavailable, $"{context} The connection was lost: {protocol.Message}", ex),

        // RST_STREAM error codes → status (PROTOCOL-HTTP2 "Errors").
        HttpProtocolException protocol => protocol.ErrorCode switch
        {
            0x7 => new Status(StatusCode.Unavailable, $"{context} The server refused the stream (REFUSED_STREAM).", ex),
            0x8 => new Status(StatusCode.Cancelled, $"{context} The server reset the stream (CANCEL).", ex),
            0xB => new Status(StatusCode.ResourceExhausted, $"{context} The server asked to slow down (ENHANCE_YOUR_CALM).", ex),
            0xC => new Status(StatusCode.PermissionDenied, $"{context} The connection's security is inadequate (INADEQUATE_SECURITY).", ex),
            _ => new Status(StatusCode.Internal, $"{context} HTTP/2 error {protocol.ErrorCode}: {protocol.Message}", ex),
        },
        HttpRequestException http => new Status(StatusCode.Unavailable, $"{context} {http.GetType().Name}: {http.Message}{(http.InnerException is { } inner ? " " + inner.Message : "")}", ex),
        OperationCanceledException => new Status(StatusCode.Cancelled, "Call canceled by the client.", ex),
        IOException io => new Status(StatusCode.Unavailable, $"{context} {io.GetType().Name}: {io.Message}", ex),
        _ => new Status(StatusCode.Internal, $"{context} {ex.GetType().Name}: {ex.Message}", ex),
    };

    /// <summary>A stream reset by the server may surface wrapped in HttpRequestException or IOException.</summary>
    private static HttpProtocolException? FindProtocolException(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is HttpProtocolException protocol)
            {
                return protocol;
            }
        }

        return null;
    }

    private static string? GetHeader(HttpHeaders headers, string name) =>
        headers.NonValidated.TryGetValues(name, out var values) ? values.ToString() : null;

    /// <summary>
    /// Response headers or trailers as metadata. A malformed entry (bad base64, a character a metadata value
    /// cannot hold) is left out rather than failing a call whose status and messages are fine.
    /// </summary>
    private static Metadata ReadMetadata(HttpHeaders headers)
    {
        var metadata = new Metadata();
        foreach (var (name, values) in headers.NonValidated)
        {
            foreach (var value in values)
            {
                try
                {
                    GrpcProtocol.AddReceivedHeader(metadata, name, value);
                }
                catch (Exception ex) when (ex is FormatException or ArgumentException)
                {
                    // Skipped: see the summary.
                }
            }
        }

        return metadata.Freeze();
    }

    private sealed record Outcome(Status Status, Metadata Trailers);
}

/// <summary>
/// The request body of a streaming call: HttpClient hands us the HTTP/2 request stream and waits until we
/// complete it, while the caller writes messages into that stream.
/// </summary>
internal sealed class StreamingRequestContent : HttpContent
{
    private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<Stream> RequestStream => _stream.Task;

    public void Complete()
    {
        _stream.TrySetCanceled();
        _complete.TrySetResult();
    }

    /// <summary>Ends the request body with an error, so the HTTP layer resets the stream instead of half-closing it.</summary>
    public void Abort()
    {
        _stream.TrySetCanceled();
        _complete.TrySetException(new OperationCanceledException("The gRPC call was cancelled."));
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        _stream.TrySetResult(stream);
        try
        {
            await _complete.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The HTTP layer is done with the request body (the response ended or the request was aborted).
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}

internal sealed class ClientStreamWriter<TRequest, TResponse>(
    GrpcCall<TRequest, TResponse> call,
    StreamingRequestContent content,
    Marshaller<TRequest> marshaller,
    MessageWriter writer) : IClientStreamWriter<TRequest>
    where TRequest : class
    where TResponse : class
{
    private readonly ArrayBufferWriter<byte> _buffer = new();
    private int _writing;
    private bool _completed;

    public WriteOptions? WriteOptions { get; set; }

    public Task WriteAsync(TRequest message) => WriteAsync(message, CancellationToken.None);

    public async Task WriteAsync(TRequest message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (Interlocked.Exchange(ref _writing, 1) == 1)
        {
            throw new InvalidOperationException("Can't write the message because the previous write is in progress (one writer per stream).");
        }

        try
        {
            if (_completed)
            {
                throw new InvalidOperationException("Can't write the message because the request stream has been completed.");
            }

            var stream = await call.GetRequestStreamAsync(content).ConfigureAwait(false);
            _buffer.ResetWrittenCount();
            writer.Write(_buffer, message, marshaller.ContextualSerializer, GrpcCall<TRequest, TResponse>.AllowsCompression(WriteOptions));
            try
            {
                await stream.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
                if ((WriteOptions?.Flags & WriteFlags.BufferHint) != WriteFlags.BufferHint)
                {
                    // BufferHint lets a burst of messages share one flush: the next plain write or completion sends them.
                    await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not RpcException)
            {
                throw await call.WriteFailedAsync(ex, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    public Task CompleteAsync()
    {
        if (Volatile.Read(ref _writing) == 1)
        {
            // END_STREAM must not overtake the DATA frame of a write still in progress.
            throw new InvalidOperationException("Can't complete the request stream while a write is in progress.");
        }

        _completed = true;
        content.Complete();
        return Task.CompletedTask;
    }
}

internal sealed class ClientStreamReader<TRequest, TResponse>(GrpcCall<TRequest, TResponse> call) : IAsyncStreamReader<TResponse>
    where TRequest : class
    where TResponse : class
{
    public TResponse Current { get; private set; } = default!;

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        var (hasMessage, message) = await call.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
        Current = message;
        return hasMessage;
    }
}

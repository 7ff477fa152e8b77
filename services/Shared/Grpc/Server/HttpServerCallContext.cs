using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using WebhookConnect.Grpc.Protocol;

namespace WebhookConnect.Grpc.Server;

/// <summary>
/// One server call on one HTTP/2 stream. Every write to the response (headers, messages, trailers) happens
/// under one lock so the deadline timer and the handler never write at the same time, and only one handler
/// write may be pending at once (single-writer discipline).
/// </summary>
internal sealed class HttpServerCallContext : ServerCallContext, IAsyncDisposable
{
    private readonly HttpContext _http;
    private readonly GrpcServerOptions _options;
    private readonly CancellationTokenSource _cts;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Metadata _responseTrailers = [];
    private MessageWriter? _writer;
    private Metadata? _requestHeaders;
    private Timer? _deadlineTimer;
    private Task? _deadlineTask;
    private DateTime _deadline = DateTime.MaxValue;
    private int _writePending;
    private bool _ended;
    private volatile bool _deadlineExceeded;

    public HttpServerCallContext(HttpContext http, string method, GrpcServerOptions options)
    {
        _http = http;
        _options = options;
        Method = method;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        Reader = null!;
    }

    public MessageReader Reader { get; private set; }

    public HttpContext HttpContext => _http;

    public bool DeadlineExceeded => _deadlineExceeded;

    public bool ClientAborted => _http.RequestAborted.IsCancellationRequested;

    public override string Method { get; }

    public override string Host => _http.Request.Host.Value ?? "";

    public override string Peer => FormatPeer(_http.Connection.RemoteIpAddress, _http.Connection.RemotePort);

    public override DateTime Deadline => _deadline;

    public override Metadata RequestHeaders => _requestHeaders ??= ReadRequestHeaders(_http.Request.Headers);

    public override CancellationToken CancellationToken => _cts.Token;

    public override Metadata ResponseTrailers => _responseTrailers;

    public override Status Status { get; set; } = Status.DefaultSuccess;

    public override WriteOptions? WriteOptions { get; set; }

    /// <summary>Fires the handler's token when the transport learns the client is gone before Kestrel says so.</summary>
    public void CancelByClient() => _cts.Cancel();

    /// <summary>Reads the call's protocol headers; throws RpcException for values the server cannot honour.</summary>
    public void Initialize()
    {
        var encoding = _http.Request.Headers[GrpcProtocol.EncodingHeader].ToString();
        if (encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase) && !encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(new Status(StatusCode.Unimplemented, $"Message encoding '{encoding}' is not supported; supported: {GrpcProtocol.AcceptEncodingValue}."));
        }

        Reader = new MessageReader(_http.Request.BodyReader, _options.MaxReceiveMessageSize, encoding.Length == 0 ? null : encoding);
        var compress = string.Equals(_options.ResponseCompressionAlgorithm, "gzip", StringComparison.OrdinalIgnoreCase)
            && _http.Request.Headers[GrpcProtocol.AcceptEncodingHeader].ToString().Split(',').Any(e => e.Trim().Equals("gzip", StringComparison.OrdinalIgnoreCase));
        _writer = new MessageWriter(_options.MaxSendMessageSize, compress);

        var timeoutHeader = _http.Request.Headers[GrpcProtocol.TimeoutHeader].ToString();
        if (timeoutHeader.Length > 0 && GrpcProtocol.TryParseTimeout(timeoutHeader, out var timeout))
        {
            // Timers cap at ~49 days; a longer deadline is as good as none.
            if (timeout < TimeSpan.FromDays(40))
            {
                _deadline = DateTime.UtcNow + timeout;
                _deadlineTimer = new Timer(static state => ((HttpServerCallContext)state!).OnDeadline(), this, timeout, Timeout.InfiniteTimeSpan);
            }
        }
    }

    public override async Task WriteResponseHeadersAsync(Metadata responseHeaders)
    {
        ArgumentNullException.ThrowIfNull(responseHeaders);
        await _writeLock.WaitAsync(CancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfEnded();
            if (_http.Response.HasStarted)
            {
                throw new InvalidOperationException("Response headers can only be sent once per call, before the first message.");
            }

            PrepareResponse();
            AppendMetadata(_http.Response.Headers, responseHeaders);
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task WriteMessageAsync<T>(T message, Action<T, SerializationContext> serializer, CancellationToken cancellationToken, WriteOptions? writeOptions = null)
    {
        if (Interlocked.Exchange(ref _writePending, 1) == 1)
        {
            throw new InvalidOperationException("Can't write the message because the previous write is in progress (one writer per stream).");
        }

        try
        {
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                ThrowIfEnded();
                if (!_http.Response.HasStarted)
                {
                    PrepareResponse();
                }

                var flags = (writeOptions ?? WriteOptions)?.Flags ?? default;
                try
                {
                    _writer!.Write(_http.Response.BodyWriter, message, serializer, compress: (flags & WriteFlags.NoCompress) == 0);
                }
                catch (Exception) when (_writer!.PartiallyWritten)
                {
                    // Part of a frame is already in the response; no status can follow it intelligibly, so the
                    // stream is reset (the client sees the call fail) instead of sending corrupt framing.
                    _ended = true;
                    _http.Abort();
                    throw;
                }

                if ((flags & WriteFlags.BufferHint) == 0)
                {
                    // BufferHint lets a burst of messages share one flush: the next plain write or the end of the call sends them.
                    await FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            Volatile.Write(ref _writePending, 0);
        }
    }

    /// <summary>
    /// Flushes the response. Kestrel resets the stream when a flush is cancelled through a token, which would
    /// lose the status the call is about to send; so cancellation (the call's and the caller's) only cancels the
    /// pending flush, and the caller turns that into the right exception.
    /// </summary>
    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        var body = _http.Response.BodyWriter;
        FlushResult flush;
        using (var callRegistration = _cts.Token.UnsafeRegister(static state => ((PipeWriter)state!).CancelPendingFlush(), body))
        using (var writeRegistration = cancellationToken.CanBeCanceled && cancellationToken != _cts.Token
            ? cancellationToken.UnsafeRegister(static state => ((PipeWriter)state!).CancelPendingFlush(), body)
            : default)
        {
            try
            {
                flush = await body.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ClientAborted)
            {
                throw new OperationCanceledException("The client cancelled the call while a message was being written.", ex, _http.RequestAborted);
            }
        }

        if (flush.IsCanceled)
        {
            if (_deadlineExceeded)
            {
                throw new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"));
            }

            throw new OperationCanceledException(ClientAborted
                ? "The client cancelled the call while a message was being written."
                : "The write was cancelled.");
        }
    }

    /// <summary>Ends the call with a status: as trailers, or as a trailers-only response when nothing was sent yet.</summary>
    public async Task EndCallAsync(Status status)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await EndCoreAsync(status).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_deadlineTimer is not null)
        {
            await _deadlineTimer.DisposeAsync().ConfigureAwait(false);
        }

        if (_deadlineTask is not null)
        {
            // The deadline path may still be completing the response; the HttpContext must outlive it.
            await _deadlineTask.ConfigureAwait(false);
        }

        _cts.Dispose();
    }

    /// <summary>Writes a complete trailers-only response; used for calls that never reach a handler.</summary>
    public static Task WriteTrailersOnlyAsync(HttpContext http, Status status)
    {
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.AcceptEncodingValue;
        SetStatusHeaders(response.Headers, status);
        return response.CompleteAsync();
    }

    internal static Metadata ReadRequestHeaders(IHeaderDictionary headers)
    {
        var metadata = new Metadata();
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                if (value is null)
                {
                    continue;
                }

                try
                {
                    GrpcProtocol.AddReceivedHeader(metadata, name, value);
                }
                catch (Exception ex) when (ex is FormatException or ArgumentException)
                {
                    throw new RpcException(new Status(StatusCode.InvalidArgument, $"Request metadata '{name}' is malformed: {ex.Message}"));
                }
            }
        }

        return metadata;
    }

    private void OnDeadline()
    {
        _deadlineExceeded = true;
        _deadlineTask = DeadlineExceededAsync();
    }

    private async Task DeadlineExceededAsync()
    {
        try
        {
            await _cts.CancelAsync().ConfigureAwait(false);
            await _writeLock.WaitAsync().ConfigureAwait(false);
            try
            {
                await EndCoreAsync(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded")).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception) when (ClientAborted)
        {
            // The client went away at the same moment; nothing left to tell it.
        }
        catch (ObjectDisposedException)
        {
            // The call finished while the timer fired.
        }
    }

    private async Task EndCoreAsync(Status status)
    {
        if (_ended)
        {
            return;
        }

        _ended = true;
        if (ClientAborted)
        {
            return;
        }

        var response = _http.Response;
        if (!response.HasStarted)
        {
            PrepareResponse();
            AppendMetadata(response.Headers, _responseTrailers);
            SetStatusHeaders(response.Headers, status);
        }
        else
        {
            foreach (var entry in _responseTrailers)
            {
                response.AppendTrailer(entry.Key, entry.IsBinary ? GrpcProtocol.EncodeBinaryHeader(entry.ValueBytes) : entry.Value);
            }

            response.AppendTrailer(GrpcProtocol.StatusHeader, ((int)status.StatusCode).ToString(CultureInfo.InvariantCulture));
            if (status.Detail.Length > 0)
            {
                response.AppendTrailer(GrpcProtocol.MessageHeader, GrpcProtocol.EncodeStatusMessage(status.Detail));
            }
        }

        await response.CompleteAsync().ConfigureAwait(false);
    }

    private void PrepareResponse()
    {
        var response = _http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.AcceptEncodingValue;
        if (_writer?.Compresses == true)
        {
            response.Headers[GrpcProtocol.EncodingHeader] = "gzip";
        }
    }

    private void ThrowIfEnded()
    {
        if (!_ended)
        {
            return;
        }

        if (_deadlineExceeded)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"));
        }

        throw new InvalidOperationException("Can't write to the call because it has already completed.");
    }

    internal static void SetStatusHeaders(IHeaderDictionary headers, Status status)
    {
        headers[GrpcProtocol.StatusHeader] = ((int)status.StatusCode).ToString(CultureInfo.InvariantCulture);
        if (status.Detail.Length > 0)
        {
            headers[GrpcProtocol.MessageHeader] = GrpcProtocol.EncodeStatusMessage(status.Detail);
        }
    }

    private static void AppendMetadata(IHeaderDictionary headers, Metadata metadata)
    {
        foreach (var entry in metadata)
        {
            headers.Append(entry.Key, entry.IsBinary ? GrpcProtocol.EncodeBinaryHeader(entry.ValueBytes) : entry.Value);
        }
    }

    private static string FormatPeer(IPAddress? address, int port) => address switch
    {
        null => "unknown",
        { AddressFamily: AddressFamily.InterNetworkV6 } => $"ipv6:[{address}]:{port}",
        _ => $"ipv4:{address}:{port}",
    };
}

/// <summary>Access to the HTTP request behind a call, e.g. for the remote address or TLS details.</summary>
public static class ServerCallContextHttpExtensions
{
    public static HttpContext GetHttpContext(this ServerCallContext context) =>
        (context as HttpServerCallContext)?.HttpContext
        ?? throw new InvalidOperationException("This call context was not created by the HTTP/2 transport.");
}

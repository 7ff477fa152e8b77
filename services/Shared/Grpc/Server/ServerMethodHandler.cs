using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using WebhookConnect.Grpc.Protocol;

namespace WebhookConnect.Grpc.Server;

/// <summary>
/// Runs one gRPC method on an HTTP/2 request: checks the protocol, reads requests, calls the handler,
/// writes responses and ends the call with exactly one status.
/// </summary>
internal sealed partial class ServerMethodHandler<TRequest, TResponse>
    where TRequest : class
    where TResponse : class
{
    private readonly Method<TRequest, TResponse> _method;
    private readonly Delegate _handler;
    private readonly GrpcServerOptions _options;
    private readonly ILogger _logger;

    public ServerMethodHandler(Method<TRequest, TResponse> method, Delegate handler, GrpcServerOptions options, ILogger logger)
    {
        _method = method;
        _handler = handler;
        _options = options;
        _logger = logger;
    }

    public async Task HandleAsync(HttpContext http)
    {
        if (!GrpcProtocol.IsGrpcContentType(http.Request.ContentType))
        {
            // PROTOCOL-HTTP2: a server SHOULD answer a non-gRPC content type with HTTP 415.
            Reject(http, StatusCodes.Status415UnsupportedMediaType, $"Content-Type '{http.Request.ContentType}' is not supported; gRPC requires '{GrpcProtocol.ContentType}'.");
            return;
        }

        if (!HttpProtocol.IsHttp2(http.Request.Protocol))
        {
            Reject(http, StatusCodes.Status426UpgradeRequired, $"Request protocol '{http.Request.Protocol}' is not supported; gRPC requires HTTP/2.");
            return;
        }

        // Messages are limited one by one; the body as a whole is unbounded, and a long-lived stream is
        // legitimately idle for long periods, so Kestrel's body size and data-rate limits must not apply.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        if (_method.Type != MethodType.Unary)
        {
            if (http.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } minRequestRate)
            {
                minRequestRate.MinDataRate = null;
            }

            if (http.Features.Get<IHttpMinResponseDataRateFeature>() is { } minResponseRate)
            {
                minResponseRate.MinDataRate = null;
            }
        }

        var call = new HttpServerCallContext(http, _method.FullName, _options);
        try
        {
            call.Initialize();
            await RunHandlerAsync(call).ConfigureAwait(false);
            await call.EndCallAsync(call.Status).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await HandleFailureAsync(call, ex).ConfigureAwait(false);
        }
        finally
        {
            await call.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Answers a request that is not a gRPC call with an HTTP error, plus a status for gRPC clients that look.</summary>
    private static void Reject(HttpContext http, int httpStatus, string message)
    {
        http.Response.StatusCode = httpStatus;
        HttpServerCallContext.SetStatusHeaders(http.Response.Headers, new Status(StatusCode.Internal, message));
    }

    private async Task RunHandlerAsync(HttpServerCallContext call)
    {
        var token = call.CancellationToken;
        switch (_method.Type)
        {
            case MethodType.Unary:
                {
                    var request = await ReadSingleRequestAsync(call).ConfigureAwait(false);
                    var response = await ((UnaryServerMethod<TRequest, TResponse>)_handler)(request, call).ConfigureAwait(false);
                    await call.WriteMessageAsync(response, _method.ResponseMarshaller.ContextualSerializer, token).ConfigureAwait(false);
                    break;
                }

            case MethodType.ClientStreaming:
                {
                    var reader = new ServerStreamReader<TRequest>(call, _method.RequestMarshaller);
                    var response = await ((ClientStreamingServerMethod<TRequest, TResponse>)_handler)(reader, call).ConfigureAwait(false);
                    await call.WriteMessageAsync(response, _method.ResponseMarshaller.ContextualSerializer, token).ConfigureAwait(false);
                    break;
                }

            case MethodType.ServerStreaming:
                {
                    var request = await ReadSingleRequestAsync(call).ConfigureAwait(false);
                    var writer = new ServerStreamWriter<TResponse>(call, _method.ResponseMarshaller);
                    await ((ServerStreamingServerMethod<TRequest, TResponse>)_handler)(request, writer, call).ConfigureAwait(false);
                    break;
                }

            case MethodType.DuplexStreaming:
                {
                    var reader = new ServerStreamReader<TRequest>(call, _method.RequestMarshaller);
                    var writer = new ServerStreamWriter<TResponse>(call, _method.ResponseMarshaller);
                    await ((DuplexStreamingServerMethod<TRequest, TResponse>)_handler)(reader, writer, call).ConfigureAwait(false);
                    break;
                }

            default:
                throw new RpcException(new Status(StatusCode.Unimplemented, $"Method type {_method.Type} is not supported."));
        }
    }

    private async Task<TRequest> ReadSingleRequestAsync(HttpServerCallContext call)
    {
        var deserializer = _method.RequestMarshaller.ContextualDeserializer;
        var (hasMessage, request) = await ServerStreamReader<TRequest>.ReadAsync(call, deserializer, call.CancellationToken).ConfigureAwait(false);
        if (!hasMessage)
        {
            throw new RpcException(new Status(StatusCode.Internal, "Request did not include a message; a unary or server-streaming call needs exactly one."));
        }

        var (extra, _) = await ServerStreamReader<TRequest>.ReadAsync(call, deserializer, call.CancellationToken).ConfigureAwait(false);
        if (extra)
        {
            throw new RpcException(new Status(StatusCode.Internal, "Request included more than one message; a unary or server-streaming call takes exactly one."));
        }

        return request;
    }

    private async Task HandleFailureAsync(HttpServerCallContext call, Exception ex)
    {
        if (call.ClientAborted)
        {
            LogClientCancelled(_logger, _method.FullName);
            return;
        }

        Status status;
        if (call.DeadlineExceeded && ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled or StatusCode.DeadlineExceeded })
        {
            // The handler's token fired because of the deadline; whatever it made of that, the deadline is the cause.
            status = new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded");
        }
        else if (ex is RpcException rpc)
        {
            status = rpc.Status;
            foreach (var entry in rpc.Trailers)
            {
                call.ResponseTrailers.Add(entry);
            }

            if (status.StatusCode is StatusCode.Internal or StatusCode.Unknown or StatusCode.DataLoss)
            {
                LogCallFailed(_logger, _method.FullName, status.StatusCode, status.Detail, null);
            }
        }
        else
        {
            LogHandlerException(_logger, _method.FullName, ex);
            status = new Status(StatusCode.Unknown, _options.EnableDetailedErrors
                ? $"Exception was thrown by handler. {ex.GetType().Name}: {ex.Message}"
                : "Exception was thrown by handler.");
        }

        try
        {
            await call.EndCallAsync(status).ConfigureAwait(false);
        }
        catch (Exception endException) when (call.ClientAborted || endException is InvalidOperationException)
        {
            LogClientCancelled(_logger, _method.FullName);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "gRPC handler for {Method} threw an exception")]
    private static partial void LogHandlerException(ILogger logger, string method, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "gRPC call {Method} failed with {StatusCode}: {Detail}")]
    private static partial void LogCallFailed(ILogger logger, string method, StatusCode statusCode, string detail, Exception? exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "gRPC call {Method} was cancelled by the client")]
    private static partial void LogClientCancelled(ILogger logger, string method);
}

/// <summary>Reads a call's request messages; one reader per call.</summary>
internal sealed class ServerStreamReader<T>(HttpServerCallContext call, Marshaller<T> marshaller) : IAsyncStreamReader<T>
{
    private bool _completed;

    public T Current { get; private set; } = default!;

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        if (_completed)
        {
            return false;
        }

        // The usual token is the call's own; linking it to itself would cost an allocation per message.
        using var linked = cancellationToken.CanBeCanceled && cancellationToken != call.CancellationToken
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, call.CancellationToken)
            : null;
        var (hasMessage, message) = await ReadAsync(call, marshaller.ContextualDeserializer, linked?.Token ?? call.CancellationToken).ConfigureAwait(false);
        if (!hasMessage)
        {
            _completed = true;
            Current = default!;
            return false;
        }

        Current = message;
        return true;
    }

    public static async ValueTask<(bool, T)> ReadAsync(HttpServerCallContext call, Func<DeserializationContext, T> deserializer, CancellationToken cancellationToken)
    {
        try
        {
            return await call.Reader.ReadAsync(deserializer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not RpcException && call.DeadlineExceeded)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"));
        }
        catch (Exception ex) when (ex is IOException or Microsoft.AspNetCore.Connections.ConnectionAbortedException
            || (ex is not RpcException and not OperationCanceledException && call.ClientAborted))
        {
            // A reset stream fails the body read a moment before RequestAborted fires. The call's token is fired
            // here and now, so a handler that sees this exception also sees its token cancelled.
            call.CancelByClient();
            throw new OperationCanceledException("The client cancelled the call (its request stream was reset).", ex, call.CancellationToken);
        }
    }
}

/// <summary>Writes a call's response messages; at most one write may be pending.</summary>
internal sealed class ServerStreamWriter<T>(HttpServerCallContext call, Marshaller<T> marshaller) : IServerStreamWriter<T>
{
    public WriteOptions? WriteOptions { get; set; }

    public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

    public Task WriteAsync(T message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        // The call's own token always applies; a caller's token can only add to it.
        return call.WriteMessageAsync(message, marshaller.ContextualSerializer, cancellationToken, WriteOptions);
    }
}

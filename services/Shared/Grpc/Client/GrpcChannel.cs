using Grpc.Core;

namespace WebhookConnect.Grpc.Client;

/// <summary>
/// A client channel to one server address over HTTP/2 (h2c for <c>http://</c>, TLS for <c>https://</c>).
/// Create one per address and share it: calls are multiplexed as streams over its connection.
/// </summary>
public sealed class GrpcChannel : ChannelBase, IDisposable
{
    private readonly bool _disposeHandler;

    private GrpcChannel(Uri address, GrpcChannelOptions options)
        : base(address.Authority)
    {
        if (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"Address '{address}' must start with http:// (cleartext HTTP/2) or https://.", nameof(address));
        }

        if (options.SendCompression is not null && !options.SendCompression.Equals("gzip", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"SendCompression '{options.SendCompression}' is not supported; use 'gzip' or null.", nameof(options));
        }

        Address = address;
        Options = options;
        CompressRequests = options.SendCompression is not null;
        var handler = options.HttpHandler;
        _disposeHandler = handler is null || options.DisposeHttpHandler;
        handler ??= new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = options.EnableMultipleHttp2Connections,
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = options.KeepAlivePingTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            ConnectTimeout = options.ConnectTimeout,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
        };
        Invoker = new HttpMessageInvoker(handler, disposeHandler: false);
        Handler = handler;
    }

    public Uri Address { get; }

    internal GrpcChannelOptions Options { get; }

    internal bool CompressRequests { get; }

    internal HttpMessageInvoker Invoker { get; }

    private HttpMessageHandler Handler { get; }

    public static GrpcChannel ForAddress(string address, GrpcChannelOptions? options = null) =>
        ForAddress(new Uri(address, UriKind.Absolute), options);

    public static GrpcChannel ForAddress(Uri address, GrpcChannelOptions? options = null) =>
        new(address, options ?? new GrpcChannelOptions());

    public override CallInvoker CreateCallInvoker() => new HttpCallInvoker(this);

    public void Dispose()
    {
        Invoker.Dispose();
        if (_disposeHandler)
        {
            Handler.Dispose();
        }
    }
}

/// <summary>Starts calls on a <see cref="GrpcChannel"/>.</summary>
internal sealed class HttpCallInvoker(GrpcChannel channel) : CallInvoker
{
    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        // Only generated blocking stubs come here; services use the async calls.
        return AsyncUnaryCall(method, host, options, request).ResponseAsync.GetAwaiter().GetResult();
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var call = new GrpcCall<TRequest, TResponse>(channel, method, options, host);
        call.StartWithRequest(request);
        return new AsyncUnaryCall<TResponse>(call.ReadSingleResponseAsync(), call);
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var call = new GrpcCall<TRequest, TResponse>(channel, method, options, host);
        call.StartWithRequest(request);
        return new AsyncServerStreamingCall<TResponse>(new ClientStreamReader<TRequest, TResponse>(call), call);
    }

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var call = new GrpcCall<TRequest, TResponse>(channel, method, options, host);
        var writer = call.StartStreaming();
        return new AsyncClientStreamingCall<TRequest, TResponse>(writer, call.ReadSingleResponseAsync(), call);
    }

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var call = new GrpcCall<TRequest, TResponse>(channel, method, options, host);
        var writer = call.StartStreaming();
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(writer, new ClientStreamReader<TRequest, TResponse>(call), call);
    }
}

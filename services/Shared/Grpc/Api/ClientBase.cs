namespace Grpc.Core;

/// <summary>Base of generated typed clients.</summary>
public abstract class ClientBase
{
    protected ClientBase()
        : this(new UnimplementedCallInvoker())
    {
    }

    protected ClientBase(ChannelBase channel)
        : this((channel ?? throw new ArgumentNullException(nameof(channel))).CreateCallInvoker())
    {
    }

    protected ClientBase(CallInvoker callInvoker)
        : this(new ClientBaseConfiguration(callInvoker, null))
    {
    }

    protected ClientBase(ClientBaseConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        Configuration = configuration;
        CallInvoker = configuration.Host is null ? configuration.CallInvoker : new HostCallInvoker(configuration.CallInvoker, configuration.Host);
    }

    protected CallInvoker CallInvoker { get; }

    internal ClientBaseConfiguration Configuration { get; }

    protected internal class ClientBaseConfiguration
    {
        internal ClientBaseConfiguration(CallInvoker callInvoker, string? host)
        {
            CallInvoker = callInvoker ?? throw new ArgumentNullException(nameof(callInvoker));
            Host = host;
        }

        internal CallInvoker CallInvoker { get; }

        internal string? Host { get; }
    }

    /// <summary>Applies <see cref="ClientBase{T}.WithHost"/>: generated stubs pass no host, so the configured one fills in.</summary>
    private sealed class HostCallInvoker(CallInvoker inner, string host) : CallInvoker
    {
        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? callHost, CallOptions options, TRequest request) =>
            inner.BlockingUnaryCall(method, callHost ?? host, options, request);

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? callHost, CallOptions options, TRequest request) =>
            inner.AsyncUnaryCall(method, callHost ?? host, options, request);

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? callHost, CallOptions options, TRequest request) =>
            inner.AsyncServerStreamingCall(method, callHost ?? host, options, request);

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? callHost, CallOptions options) =>
            inner.AsyncClientStreamingCall(method, callHost ?? host, options);

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? callHost, CallOptions options) =>
            inner.AsyncDuplexStreamingCall(method, callHost ?? host, options);
    }

    private sealed class UnimplementedCallInvoker : CallInvoker
    {
        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotImplementedException();

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotImplementedException();

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotImplementedException();

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) => throw new NotImplementedException();

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) => throw new NotImplementedException();
    }
}

/// <summary>Base of generated typed clients, able to create a copy with another configuration.</summary>
public abstract class ClientBase<T> : ClientBase
    where T : ClientBase<T>
{
    protected ClientBase()
    {
    }

    protected ClientBase(ChannelBase channel)
        : base(channel)
    {
    }

    protected ClientBase(CallInvoker callInvoker)
        : base(callInvoker)
    {
    }

    protected ClientBase(ClientBaseConfiguration configuration)
        : base(configuration)
    {
    }

    public T WithHost(string host) => NewInstance(new ClientBaseConfiguration(Configuration.CallInvoker, host));

    protected abstract T NewInstance(ClientBaseConfiguration configuration);
}

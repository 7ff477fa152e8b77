using System.Net;
using System.Reflection;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace WebhookConnect.Grpc.Server;

/// <summary>What a server offers: every mapped service and method. Reflection lists services from here.</summary>
public sealed class GrpcServiceRegistry
{
    private readonly Dictionary<string, RegisteredService> _services = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public IReadOnlyList<RegisteredService> Services
    {
        get
        {
            lock (_lock)
            {
                return _services.Values.ToArray();
            }
        }
    }

    public bool TryGet(string serviceName, out RegisteredService service)
    {
        lock (_lock)
        {
            return _services.TryGetValue(serviceName, out service!);
        }
    }

    internal void Add(string serviceName, string methodName, Type? bindType)
    {
        lock (_lock)
        {
            if (!_services.TryGetValue(serviceName, out var service))
            {
                service = new RegisteredService(serviceName, bindType);
                _services.Add(serviceName, service);
            }

            service.AddMethod(methodName);
        }
    }
}

/// <summary>A mapped service; <see cref="BindType"/> is the protoc-generated static class (it carries the descriptor).</summary>
public sealed class RegisteredService(string name, Type? bindType)
{
    private readonly HashSet<string> _methods = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public Type? BindType { get; } = bindType;

    public IReadOnlyCollection<string> Methods => _methods;

    internal void AddMethod(string method) => _methods.Add(method);
}

public static class GrpcServerExtensions
{
    /// <summary>Adds the gRPC server: options, the service registry and Kestrel's HTTP/2 limits.</summary>
    public static IServiceCollection AddGrpcServer(this IServiceCollection services, Action<GrpcServerOptions>? configure = null)
    {
        var builder = services.AddOptions<GrpcServerOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        builder
            .Validate(o => o.ResponseCompressionAlgorithm is null || o.ResponseCompressionAlgorithm.Equals("gzip", StringComparison.OrdinalIgnoreCase), "GrpcServerOptions.ResponseCompressionAlgorithm must be 'gzip' or null.")
            .Validate(o => o.MaxReceiveMessageSize > 0 && o.MaxSendMessageSize > 0, "GrpcServerOptions message size limits must be positive.")
            .Validate(o => o.MaxConcurrentStreamsPerConnection > 0, "GrpcServerOptions.MaxConcurrentStreamsPerConnection must be positive.")
            .ValidateOnStart();

        services.AddSingleton<GrpcServiceRegistry>();
        services.AddRouting();
        services.AddSingleton<IConfigureOptions<KestrelServerOptions>, KestrelGrpcLimits>();
        return services;
    }

    /// <summary>Listens for cleartext gRPC (h2c, HTTP/2 with prior knowledge) on an address and port.</summary>
    public static KestrelServerOptions ListenGrpc(this KestrelServerOptions kestrel, IPAddress address, int port)
    {
        kestrel.Listen(address, port, listen => listen.Protocols = HttpProtocols.Http2);
        return kestrel;
    }

    /// <summary>
    /// Maps a protoc-generated service implementation (a subclass of the generated <c>XxxBase</c>). The instance
    /// comes from DI when registered, otherwise one is created with its constructor dependencies; either way one
    /// instance serves all calls, so implementations must be thread-safe.
    /// </summary>
    public static IEndpointConventionBuilder MapGrpcService<TService>(this IEndpointRouteBuilder endpoints)
        where TService : class
    {
        var bindAttribute = FindBindAttribute(typeof(TService))
            ?? throw new InvalidOperationException($"{typeof(TService)} is not a generated gRPC service: no base class carries [BindServiceMethod].");
        var bindMethod = bindAttribute.BindType
            .GetMethods(BindingFlags.Public | BindingFlags.Static)
            .SingleOrDefault(m => m.Name == bindAttribute.BindMethodName && m.GetParameters().Length == 2 && m.GetParameters()[0].ParameterType == typeof(ServiceBinderBase))
            ?? throw new InvalidOperationException($"{bindAttribute.BindType}.{bindAttribute.BindMethodName}(ServiceBinderBase, ...) was not found.");
        var instance = ActivatorUtilities.GetServiceOrCreateInstance<TService>(endpoints.ServiceProvider);
        var binder = new EndpointServiceBinder(endpoints, bindAttribute.BindType);
        bindMethod.Invoke(null, [binder, instance]);
        return binder.Conventions;
    }

    /// <summary>Maps a service built with <see cref="ServerServiceDefinition.CreateBuilder"/> (handler registration).</summary>
    public static IEndpointConventionBuilder MapGrpcService(this IEndpointRouteBuilder endpoints, ServerServiceDefinition definition, Type? descriptorType = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var binder = new EndpointServiceBinder(endpoints, descriptorType);
        definition.BindService(binder);
        return binder.Conventions;
    }

    private static BindServiceMethodAttribute? FindBindAttribute(Type type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is { } attribute)
            {
                return attribute;
            }
        }

        return null;
    }

    private sealed class KestrelGrpcLimits(IOptions<GrpcServerOptions> options) : IConfigureOptions<KestrelServerOptions>
    {
        public void Configure(KestrelServerOptions kestrel)
        {
            var grpc = options.Value;
            kestrel.Limits.Http2.MaxStreamsPerConnection = grpc.MaxConcurrentStreamsPerConnection;
            kestrel.Limits.Http2.KeepAlivePingDelay = grpc.KeepAlivePingDelay;
            kestrel.Limits.Http2.KeepAlivePingTimeout = grpc.KeepAlivePingTimeout;
        }
    }

    /// <summary>Turns each bound method into a POST endpoint at its gRPC path.</summary>
    private sealed class EndpointServiceBinder : ServiceBinderBase
    {
        private readonly IEndpointRouteBuilder _endpoints;
        private readonly Type? _bindType;
        private readonly GrpcServiceRegistry _registry;
        private readonly GrpcServerOptions _options;
        private readonly ILogger _logger;
        private readonly List<IEndpointConventionBuilder> _builders = [];

        public EndpointServiceBinder(IEndpointRouteBuilder endpoints, Type? bindType)
        {
            _endpoints = endpoints;
            _bindType = bindType;
            _registry = endpoints.ServiceProvider.GetService<GrpcServiceRegistry>()
                ?? throw new InvalidOperationException("Call services.AddGrpcServer() before mapping gRPC services.");
            _options = endpoints.ServiceProvider.GetRequiredService<IOptions<GrpcServerOptions>>().Value;
            _logger = endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("WebhookConnect.Grpc.Server");
            UnimplementedEndpoints.EnsureMapped(endpoints, _registry);
        }

        public IEndpointConventionBuilder Conventions => new CompositeConventionBuilder(_builders);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) => Map(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) => Map(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) => Map(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) => Map(method, handler);

        private void Map<TRequest, TResponse>(Method<TRequest, TResponse> method, Delegate? handler)
            where TRequest : class
            where TResponse : class
        {
            ArgumentNullException.ThrowIfNull(handler);
            var methodHandler = new ServerMethodHandler<TRequest, TResponse>(method, handler, _options, _logger);
            var path = method.FullName;
            var builder = _endpoints.MapMethods(path, ["POST"], http =>
                    // ASP.NET Core routing ignores case; gRPC paths do not (PROTOCOL-HTTP2: ":path" is
                    // "/" Service-Name "/" method name, exact). A differently cased path is not this method, so it
                    // must not reach the handler (middleware keyed on the exact path would be bypassed).
                    string.Equals(http.Request.Path.Value, path, StringComparison.Ordinal)
                        ? methodHandler.HandleAsync(http)
                        : HttpServerCallContext.WriteTrailersOnlyAsync(http, new Status(
                            StatusCode.Unimplemented,
                            $"Method '{http.Request.Path.Value}' is not implemented by this server (gRPC paths are case-sensitive).")))
                .WithDisplayName("gRPC " + method.FullName);
            _builders.Add(builder);
            _registry.Add(method.ServiceName, method.Name, _bindType);
        }
    }

    private sealed class CompositeConventionBuilder(IReadOnlyList<IEndpointConventionBuilder> builders) : IEndpointConventionBuilder
    {
        public void Add(Action<EndpointBuilder> convention)
        {
            foreach (var builder in builders)
            {
                builder.Add(convention);
            }
        }
    }
}

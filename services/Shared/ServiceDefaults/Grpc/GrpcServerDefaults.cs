using System.Net;
using Grpc.AspNetCore.HealthChecks;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using WebhookConnect.ServiceDefaults.Tls;

namespace WebhookConnect.ServiceDefaults.Grpc;

/// <summary>
/// How every gRPC server of ours is configured (SPEC §12, docs/transport.md): <c>Grpc.AspNetCore</c> with our
/// limits, gzip, Kestrel's HTTP/2 limits and keepalive, server reflection and <c>grpc.health.v1</c> driven by the
/// same checks as <c>/readyz</c>. Each value is ours on purpose; the reason stands next to it.
/// </summary>
public static class GrpcServerDefaults
{
    /// <summary>Largest message either way: a webhook body may be 10 MiB (SPEC §4) plus its headers and envelope.</summary>
    public const int MaxMessageSize = 16 * 1024 * 1024;

    /// <summary>
    /// Streams per HTTP/2 connection (Kestrel's default is 100). One connector multiplexes a stream per channel, and
    /// ingress keeps many Publish calls in flight on one connection; 1 000 leaves room without letting one peer
    /// open unbounded streams.
    /// </summary>
    public const int MaxStreamsPerConnection = 1000;

    /// <summary>
    /// Server keepalive: a PING after 30 s without frames, the connection closed when no answer comes within 20 s.
    /// A connector behind NAT or a proxy that silently dropped the connection is noticed within a minute, its leases
    /// released, without pinging healthy busy connections (frames reset the timer).
    /// </summary>
    public static readonly TimeSpan KeepAlivePingDelay = TimeSpan.FromSeconds(30);

    /// <inheritdoc cref="KeepAlivePingDelay"/>
    public static readonly TimeSpan KeepAlivePingTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// HTTP/2 flow-control windows: 1 MiB per connection, 768 KiB per stream (Kestrel: 128 KiB / 96 KiB). A Connect
    /// stream and a batch of publishes carry many 1 KiB–10 MiB messages; small windows stall a sender for a round
    /// trip per window on any link slower than loopback.
    /// </summary>
    public const int InitialConnectionWindowSize = 1024 * 1024;

    /// <inheritdoc cref="InitialConnectionWindowSize"/>
    public const int InitialStreamWindowSize = 768 * 1024;

    /// <summary>
    /// Adds the gRPC server with our options, reflection and health. <paramref name="healthServices"/> are the
    /// service names reported by <c>grpc.health.v1.Health</c> besides <c>""</c> (the whole server); each is
    /// SERVING exactly when every check tagged <see cref="HealthCheckTags.Ready"/> passes, as <c>/readyz</c>.
    /// </summary>
    public static IGrpcServerBuilder AddGrpcServerDefaults(this WebApplicationBuilder builder, params string[] healthServices)
    {
        var services = builder.Services;
        var grpc = services.AddGrpc(options =>
        {
            options.MaxReceiveMessageSize = MaxMessageSize;
            options.MaxSendMessageSize = MaxMessageSize;
            // gzip-compressed requests are always accepted (the default providers); responses are not compressed
            // unless a client asks per call: our messages are mostly webhook bodies that senders already chose
            // to send as they are, and compressing them costs CPU on every delivery.
            options.ResponseCompressionAlgorithm = null;
            options.EnableDetailedErrors = false;
            // A call to a service or method nobody mapped gets UNIMPLEMENTED, never a plain 404.
            options.IgnoreUnknownServices = false;
            // Reflection answers carry original_request and real file paths, as reflection.proto and grpc-js expect.
            options.Interceptors.Add<ReflectionConformance>();
        });
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks(options =>
        {
            options.Services.Map("", IsReadinessCheck);
            foreach (var name in healthServices)
            {
                options.Services.Map(name, IsReadinessCheck);
            }
        });
        // Watch streams are fed by the health-check publisher: first result at once, then every 5 s.
        services.Configure<HealthCheckPublisherOptions>(options =>
        {
            options.Delay = TimeSpan.Zero;
            options.Period = TimeSpan.FromSeconds(5);
        });
        services.AddHealthChecks().AddCheck<StoppingHealthCheck>("stopping", tags: [HealthCheckTags.Ready]);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var http2 = kestrel.Limits.Http2;
            http2.MaxStreamsPerConnection = MaxStreamsPerConnection;
            http2.KeepAlivePingDelay = KeepAlivePingDelay;
            http2.KeepAlivePingTimeout = KeepAlivePingTimeout;
            http2.InitialConnectionWindowSize = InitialConnectionWindowSize;
            http2.InitialStreamWindowSize = InitialStreamWindowSize;
        });
        return grpc;
    }

    /// <summary>
    /// Listens for gRPC on an address and port: cleartext (h2c: HTTP/2 with prior knowledge) unless
    /// <paramref name="tls"/> names certificate files, then TLS with ALPN h2 and the certificate reloaded when its
    /// files change. <paramref name="listener"/> names the listener in logs.
    /// </summary>
    public static KestrelServerOptions ListenGrpc(this KestrelServerOptions kestrel, IPAddress address, int port, TlsListenerOptions? tls = null, string listener = "gRPC")
    {
        kestrel.Listen(address, port, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            if (tls is not null)
            {
                listen.UseTls(tls, listener);
            }
        });
        return kestrel;
    }

    /// <summary>Maps reflection (v1 and v1alpha, for grpcurl) and <c>grpc.health.v1.Health</c>.</summary>
    public static void MapGrpcStandardServices(this WebApplication app, int? reflectionPort = null)
    {
        var reflection = app.MapGrpcReflectionService();
        if (reflectionPort is { } port)
        {
            reflection.OnlyOnPort(port);
        }

        app.MapGrpcHealthChecksService();
    }

    private static bool IsReadinessCheck(HealthCheckMapContext check) => check.Tags.Contains(HealthCheckTags.Ready);
}

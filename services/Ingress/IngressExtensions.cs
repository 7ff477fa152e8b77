using System.Net;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Admission;
using WebhookConnect.Ingress.Endpoints;
using WebhookConnect.Ingress.Intake;
using WebhookConnect.Ingress.Publishing;
using WebhookConnect.Ingress.Spool;
using WebhookConnect.Ingress.Telemetry;
using WebhookConnect.ServiceDefaults;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.ServiceDefaults.Tls;

namespace WebhookConnect.Ingress;

/// <summary>The ingress service's wiring, in one place.</summary>
public static partial class IngressExtensions
{
    public static WebApplicationBuilder AddIngress(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<IngressOptions>(builder.Configuration, IngressOptions.SectionName);
        services.AddSingleton(TimeProvider.System);
        services.AddGrpcClientDefaults<PublishService.PublishServiceClient>(
            sp => sp.GetRequiredService<IOptions<IngressOptions>>().Value.QueueManager,
            caFile: sp => sp.GetRequiredService<IOptions<IngressOptions>>().Value.QueueManagerCaFile,
            configureHandler: handler =>
            {
                // An unreachable queue-manager must turn into a spool write quickly, not after the default 10 s,
                // and a dead connection must be noticed within seconds (a publish waiting on it holds a sender).
                handler.ConnectTimeout = TimeSpan.FromSeconds(2);
                handler.KeepAlivePingDelay = TimeSpan.FromSeconds(10);
                handler.KeepAlivePingTimeout = TimeSpan.FromSeconds(5);
            },
            // Publish is idempotent by message_id: a replica that went away is tried again on another.
            methods: GrpcClientDefaults.RetryUnavailable(PublishService.Descriptor.FullName, "Publish", "PublishBatch"));
        services.AddSingleton<QueueManagerClient>();
        services.AddSingleton<QueueAvailability>();
        services.AddSingleton<IQueuePublisher>(sp => sp.GetRequiredService<IOptions<IngressOptions>>().Value.PublishBatching
            ? ActivatorUtilities.CreateInstance<BatchingPublisher>(sp)
            : ActivatorUtilities.CreateInstance<UnaryPublisher>(sp));
        services.AddSingleton<EndpointCache>();
        services.AddHostedService(sp => sp.GetRequiredService<EndpointCache>());
        services.AddSingleton<SpoolFile>();
        services.AddHostedService<SpoolReplayer>();
        services.AddSingleton<BodyIntake>();
        services.AddSingleton<FailedVerificationLimit>();
        services.AddSingleton<IngressMetrics>();
        services.AddSingleton<WebhookHandler>();
        services.AddHealthChecks().AddCheck<EndpointCache>("endpoint-table", tags: [HealthCheckTags.Ready]);
        builder.WebHost.ConfigureKestrel((_, kestrel) =>
        {
            // Reading the options validates them, so a bad setting stops start-up with the setting named.
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<IngressOptions>>().Value;
            kestrel.Listen(IPAddress.Parse(options.Host), options.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                if (options.Tls.Enabled)
                {
                    // ALPN chooses h2 or http/1.1; there is no cleartext preface to look for.
                    listen.UseTls(options.Tls, "ingress webhooks");
                }
                else
                {
                    listen.UseCleartextHttp2Detection(options.RequestHeadersTimeout);
                }
            });
            kestrel.AddServerHeader = false;
            // Slow senders (docs/ingress.md, "Slow senders"): a request's header must be complete within this time
            // (HTTP/1.1; h2c connections must have sent their preface within it, CleartextHttp2). Bodies are bounded
            // by Ingress:BodyTimeout in the handler, on top of Kestrel's minimum data rate, kept at its default.
            kestrel.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
            // h2c connections are marked like ALPN ones (CleartextHttp2), so Kestrel takes them for TLS; the
            // request's own :scheme (http) is the truth and must not be refused as a mismatch.
            kestrel.AllowAlternateSchemes = true;
            // Header limits (docs/ingress.md, "Header limits, exactly"). The total size is Kestrel's (431; over
            // HTTP/2 also announced as SETTINGS_MAX_HEADER_LIST_SIZE). Over HTTP/2 Kestrel decodes a whole header
            // block before it can answer, so it answers 431 only up to twice its limits and ends the connection
            // (GOAWAY) beyond them. Its count limit is therefore the most fields a header list of the announced size
            // can hold (each field counts 32 bytes more, RFC 9113 §6.5.2), and ingress applies Ingress:MaxHeaderCount
            // itself (WebhookHandler): a client that keeps to the announced size gets 431 for too many headers, never
            // a GOAWAY. One field may be as long as a list Kestrel still answers, so that it is not a connection
            // error sooner (HPACK's field limit). The management port shares these limits.
            kestrel.Limits.MaxRequestHeaderCount = Math.Max(options.MaxHeaderCount, options.MaxHeadersTotalBytes / 32);
            kestrel.Limits.MaxRequestHeadersTotalSize = options.MaxHeadersTotalBytes;
            kestrel.Limits.Http2.MaxRequestHeaderFieldSize = 2 * options.MaxHeadersTotalBytes;
            // The handler enforces the endpoint's limit itself (413); Kestrel's is only the backstop above it.
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes + 1L;
            // Header values are taken as Latin-1, byte for byte, so obs-text (0x80-0xFF) and UTF-8 alike reach the
            // message exactly as sent (message.proto: header values are the octets received).
            kestrel.RequestHeaderEncodingSelector = _ => Encoding.Latin1;
        });
        return builder;
    }

    public static WebApplication MapIngress(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<IngressOptions>>().Value;
        var handler = app.Services.GetRequiredService<WebhookHandler>();
        // Everything that arrives on the webhook port is the handler's, by the socket's port and not by the Host
        // header: behind a load balancer the Host is the public name, without our port.
        app.MapWhen(context => context.Connection.LocalPort == options.Port, webhooks => webhooks.Run(handler.HandleAsync));

        // Kestrel warns at start that HTTP/2 "requires TLS" on this endpoint; CleartextHttp2 serves h2c anyway.
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("WebhookConnect.Ingress");
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (options.Tls.Enabled)
            {
                LogListeningTls(logger, options.Host, options.Port);
            }
            else
            {
                LogListening(logger, options.Host, options.Port);
            }
        });
        return app;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhooks on http://{Host}:{Port}/webhook/{{endpoint}}: HTTP/1.1 and HTTP/2 with prior knowledge (h2c); Kestrel's warning that HTTP/2 needs TLS does not apply to this endpoint")]
    private static partial void LogListening(ILogger logger, string host, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhooks on https://{Host}:{Port}/webhook/{{endpoint}}: HTTP/1.1 and HTTP/2 by ALPN")]
    private static partial void LogListeningTls(ILogger logger, string host, int port);
}

using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace WebhookConnect.ServiceDefaults.Grpc;

/// <summary>
/// How every gRPC client of ours (ingress → queue-manager, admin → queue-manager, connector → queue-manager) builds
/// its channel on <c>Grpc.Net.Client</c> (SPEC §12, docs/transport.md).
/// <list type="bullet">
/// <item><c>http://host:port</c> / <c>https://host:port</c>: one address; a Kubernetes ClusterIP Service balances
/// per connection.</item>
/// <item><c>dns:///host:port</c>: the name is resolved to every address (a headless Service lists each replica), a
/// connection is kept to each, and calls are spread round-robin; the name is resolved again every
/// <see cref="DnsRefreshInterval"/> and whenever a connection fails, so replicas that come and go are followed.</item>
/// <item><c>static:///host1:port1,host2:port2</c>: the same balancing over a fixed list (replicas on VMs without a
/// DNS name that lists them all; also how the tests run two replicas on one loopback address).</item>
/// </list>
/// </summary>
public static class GrpcClientDefaults
{
    /// <summary>How often a <c>dns:///</c> name is resolved again to find new replicas.</summary>
    public static readonly TimeSpan DnsRefreshInterval = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Client keepalive: an HTTP/2 PING after 30 s without frames, the connection dropped without an answer within
    /// 20 s, also while no call runs, so a dead peer behind NAT is found before a call needs the connection.
    /// </summary>
    public static readonly TimeSpan KeepAlivePingDelay = TimeSpan.FromSeconds(30);

    /// <inheritdoc cref="KeepAlivePingDelay"/>
    public static readonly TimeSpan KeepAlivePingTimeout = TimeSpan.FromSeconds(20);

    private static readonly IServiceProvider BalancingServices = new ServiceCollection()
        .AddSingleton<ResolverFactory>(new DnsResolverFactory(DnsRefreshInterval))
        .AddSingleton<ResolverFactory>(new StaticResolverFactory(StaticAddresses))
        .BuildServiceProvider();

    /// <summary>A handler with our connection settings; callers adjust timeouts and TLS before passing it on.</summary>
    public static SocketsHttpHandler CreateHandler() => new()
    {
        KeepAlivePingDelay = KeepAlivePingDelay,
        KeepAlivePingTimeout = KeepAlivePingTimeout,
        KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        // More streams than one connection allows (the server's limit, 1 000 for ours; 100 is common elsewhere)
        // open a second HTTP/2 connection instead of queueing calls behind the first.
        EnableMultipleHttp2Connections = true,
        UseProxy = false,
    };

    /// <summary>
    /// Trusts exactly the CA certificates of a PEM file (one or more) for the server's certificate, instead of the
    /// system's trust store: a private CA for queue-manager's listeners. The host name is still checked against the
    /// certificate; revocation is not (private CAs seldom publish lists, and a fetch must not stall a connect).
    /// </summary>
    public static void TrustAuthorities(SocketsHttpHandler handler, string caFile)
    {
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(caFile);
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.AddRange(authorities);
        handler.SslOptions.CertificateChainPolicy = policy;
    }

    /// <summary>
    /// Why <paramref name="caFile"/> cannot be used with <paramref name="address"/> (null when it can): a CA file
    /// needs TLS, which an <c>http://</c> address rules out; it must exist and hold at least one PEM certificate.
    /// With <c>dns:///</c> and <c>static:///</c> addresses a CA file is what turns TLS on.
    /// </summary>
    public static string? CaFileProblem(string address, string caFile)
    {
        if (caFile.Length == 0)
        {
            return null;
        }

        if (address.StartsWith("http:", StringComparison.OrdinalIgnoreCase))
        {
            return $"is set but the address '{address}' is plaintext (http://); use https:// (or dns:/// / static:///, which then use TLS).";
        }

        if (!File.Exists(caFile))
        {
            return "file not found.";
        }

        try
        {
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPemFile(caFile);
            return authorities.Count == 0 ? "holds no PEM certificate (-----BEGIN CERTIFICATE-----)." : null;
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            return $"cannot be read as PEM certificates: {ex.Message}";
        }
    }

    /// <summary>True for an address this module accepts: <c>http://</c>, <c>https://</c>, <c>dns:///</c> or <c>static:///</c>.</summary>
    public static bool IsValidAddress(string address, out string problem)
    {
        problem = "";
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri))
        {
            problem = "is not an absolute address";
            return false;
        }

        switch (uri.Scheme)
        {
            case "http" or "https":
                return true;
            case "dns" when uri.AbsolutePath.Trim('/').Length > 0 && uri.AbsolutePath.Contains(':', StringComparison.Ordinal):
                return true;
            case "dns":
                problem = "must name a host and port after dns:///, e.g. dns:///queue-manager-headless:5004";
                return false;
            case "static":
                try
                {
                    return StaticAddresses(uri).Count > 0;
                }
                catch (FormatException ex)
                {
                    problem = ex.Message;
                    return false;
                }

            default:
                problem = $"has the scheme '{uri.Scheme}'; use http://, https://, dns:/// or static:///";
                return false;
        }
    }

    /// <summary>
    /// Creates a channel for <paramref name="address"/> on <paramref name="handler"/> (owned by the channel).
    /// <paramref name="tls"/> only matters for <c>dns:///</c> addresses (the scheme says it otherwise).
    /// </summary>
    public static GrpcChannel CreateChannel(string address, SocketsHttpHandler handler, bool tls = false, params MethodConfig[] methods)
    {
        var options = new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true };
        Configure(options, address, tls, methods);
        return GrpcChannel.ForAddress(address, options);
    }

    private static void Configure(GrpcChannelOptions options, string address, bool tls, MethodConfig[] methods)
    {
        options.MaxReceiveMessageSize = GrpcServerDefaults.MaxMessageSize;
        options.MaxSendMessageSize = GrpcServerDefaults.MaxMessageSize;
        options.ServiceConfig = new ServiceConfig();
        foreach (var method in methods)
        {
            options.ServiceConfig.MethodConfigs.Add(method);
        }

        if (IsBalanced(address))
        {
            options.Credentials = tls ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure;
            options.ServiceConfig.LoadBalancingConfigs.Add(new RoundRobinConfig());
            // Our resolver factories (refresh interval, static lists); the channel looks up nothing else there.
            options.ServiceProvider = BalancingServices;
        }
    }

    /// <summary>True for the addresses balanced on the client: <c>dns:///</c> and <c>static:///</c>.</summary>
    public static bool IsBalanced(string address) =>
        address.StartsWith("dns:", StringComparison.OrdinalIgnoreCase) || address.StartsWith("static:", StringComparison.OrdinalIgnoreCase);

    /// <summary>The <c>host:port</c> list of a <c>static:///a:1,b:2</c> address.</summary>
    private static IReadOnlyList<BalancerAddress> StaticAddresses(Uri address)
    {
        var list = new List<BalancerAddress>();
        foreach (var item in Uri.UnescapeDataString(address.AbsolutePath).Trim('/').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = item.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(item.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
            {
                throw new FormatException($"'{item}' is not host:port (static:///host1:port1,host2:port2)");
            }

            list.Add(new BalancerAddress(item[..colon].Trim('[', ']'), port));
        }

        return list.Count > 0 ? list : throw new FormatException("lists no host:port after static:///");
    }

    /// <summary>
    /// Registers a typed gRPC client through <c>Grpc.Net.ClientFactory</c> with the channel settings of
    /// <see cref="CreateChannel"/>: our handler, message limits, <c>dns:///</c> round-robin and the given method
    /// configs. One channel for the life of the process (handler lifetime infinite): connections are renewed by
    /// keepalive failures and DNS re-resolution, not by a timer that would drop every subchannel.
    /// </summary>
    /// <param name="caFile">A PEM file of the CA(s) to trust for the server's certificate instead of the system store
    /// (<see cref="TrustAuthorities"/>); empty: the system store. For <c>dns:///</c> and <c>static:///</c> addresses a
    /// CA file also turns TLS on (they are cleartext without one); <c>https://</c> is TLS either way.</param>
    public static IHttpClientBuilder AddGrpcClientDefaults<TClient>(
        this IServiceCollection services, Func<IServiceProvider, string> address, Func<IServiceProvider, string>? caFile = null,
        Action<SocketsHttpHandler>? configureHandler = null, params MethodConfig[] methods)
        where TClient : class
    {
        return services
            .AddGrpcClient<TClient>((sp, options) => options.Address = new Uri(address(sp)))
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var handler = CreateHandler();
                if (caFile?.Invoke(sp) is { Length: > 0 } authorities)
                {
                    TrustAuthorities(handler, authorities);
                }

                configureHandler?.Invoke(handler);
                return handler;
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            // IHttpClientFactory's two log lines (and a log scope) per call are noise for a gRPC channel, whose own
            // logging says what happened, and they cost on every publish.
            .RemoveAllLoggers()
            .ConfigureChannel((sp, options) => Configure(options, address(sp), tls: caFile?.Invoke(sp) is { Length: > 0 }, methods));
    }

    /// <summary>
    /// Retries for idempotent calls (Publish is idempotent by <c>message_id</c>): UNAVAILABLE (the replica went away
    /// or could not be reached) is tried again up to 4 attempts in all, 100 ms → 1 s apart, within the call's own
    /// deadline. No other status retries: RESOURCE_EXHAUSTED and INVALID_ARGUMENT are answers, not accidents.
    /// </summary>
    public static MethodConfig RetryUnavailable(string service, params string[] methods)
    {
        var config = new MethodConfig
        {
            RetryPolicy = new RetryPolicy
            {
                MaxAttempts = 4,
                InitialBackoff = TimeSpan.FromMilliseconds(100),
                MaxBackoff = TimeSpan.FromSeconds(1),
                BackoffMultiplier = 2,
                RetryableStatusCodes = { StatusCode.Unavailable },
            },
        };
        foreach (var method in methods)
        {
            config.Names.Add(new MethodName { Service = service, Method = method });
        }

        return config;
    }
}

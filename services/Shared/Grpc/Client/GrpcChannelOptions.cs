using WebhookConnect.Grpc.Protocol;

namespace WebhookConnect.Grpc.Client;

/// <summary>Settings of a client channel.</summary>
public sealed class GrpcChannelOptions
{
    /// <summary>
    /// The HTTP handler to send calls with; by default a <see cref="SocketsHttpHandler"/> configured from the
    /// settings below. Supply one for TLS client certificates or a custom CA.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    /// <summary>Whether disposing the channel disposes <see cref="HttpHandler"/> (the default handler is always disposed).</summary>
    public bool DisposeHttpHandler { get; set; }

    public int MaxSendMessageSize { get; set; } = GrpcProtocol.DefaultMaxMessageSize;

    /// <summary><c>gzip</c> to compress request messages; null (the default) sends them uncompressed.</summary>
    public string? SendCompression { get; set; }

    public int MaxReceiveMessageSize { get; set; } = GrpcProtocol.DefaultMaxMessageSize;

    /// <summary>HTTP/2 PING after this much idle time, so idle proxies keep the connection and dead peers are found.</summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A connection whose PING is not answered within this time is closed and its calls fail with UNAVAILABLE.</summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// When false (the default) all calls share one HTTP/2 connection and queue once the server's stream limit
    /// is reached; when true the handler opens more connections instead.
    /// </summary>
    public bool EnableMultipleHttp2Connections { get; set; }

    /// <summary>Time allowed to establish a TCP connection; beyond it calls fail with UNAVAILABLE.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

using WebhookConnect.Grpc.Protocol;

namespace WebhookConnect.Grpc.Server;

/// <summary>Settings of the gRPC server side of the transport.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>Largest message a handler may receive; larger ones end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; set; } = GrpcProtocol.DefaultMaxMessageSize;

    /// <summary>Largest message a handler may send; larger ones end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxSendMessageSize { get; set; } = GrpcProtocol.DefaultMaxMessageSize;

    /// <summary>
    /// <c>gzip</c> to compress response messages for clients that accept it (<c>grpc-accept-encoding</c>);
    /// null (the default) sends them uncompressed. Requests are decompressed whatever this says.
    /// </summary>
    public string? ResponseCompressionAlgorithm { get; set; }

    /// <summary>When true, an unexpected handler exception's type and message are sent in grpc-message.</summary>
    public bool EnableDetailedErrors { get; set; }

    /// <summary>HTTP/2 streams one client connection may open at once (Kestrel's default of 100 is low for multiplexed clients).</summary>
    public int MaxConcurrentStreamsPerConnection { get; set; } = 1000;

    /// <summary>Idle time after which the server pings a connection to find dead peers.</summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an unanswered ping may wait before the connection is closed.</summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(20);
}

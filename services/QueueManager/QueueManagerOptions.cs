using System.ComponentModel.DataAnnotations;
using System.Net;

namespace WebhookConnect.QueueManager;

/// <summary>Settings of the queue-manager (configuration section <c>QueueManager</c>).</summary>
public sealed class QueueManagerOptions : IValidatableObject
{
    public const string SectionName = "QueueManager";

    /// <summary>StackExchange.Redis configuration: endpoints and options, e.g. <c>redis:6379,password=…</c>.</summary>
    [Required]
    public string Redis { get; set; } = "127.0.0.1:6379";

    /// <summary>Address of the public gRPC listener (<see cref="Port"/>: <c>Connect</c> for connectors).</summary>
    [Required]
    public string Host { get; set; } = ServiceDefaults.ListenerDefaults.Host;

    /// <summary>The public gRPC port (h2c): <c>Connect</c>, health. Nothing else is served here.</summary>
    [Range(1, 65535)]
    public int Port { get; set; } = 5001;

    /// <summary>TLS for the public port, the one connectors reach (PEM files, reloaded on change); empty: plaintext
    /// (a mesh, a gateway or an ingress controller ends TLS in front of it).</summary>
    public ServiceDefaults.Tls.TlsListenerOptions Tls { get; set; } = new();

    /// <summary>Address of the HTTP/1.1 connector listener (<see cref="HttpPort"/>).</summary>
    [Required]
    public string HttpHost { get; set; } = ServiceDefaults.ListenerDefaults.Host;

    /// <summary>The public HTTP/1.1 port of the connector protocols for networks whose proxies break HTTP/2: WebSocket,
    /// SSE, long-poll, <c>POST /connect/ack</c>, <c>GET /connect/status</c> (SPEC §16, docs/queue-manager.md).</summary>
    [Range(1, 65535)]
    public int HttpPort { get; set; } = 5003;

    /// <summary>TLS for the HTTP/1.1 connector port (PEM files, reloaded on change); empty: plaintext.</summary>
    public ServiceDefaults.Tls.TlsListenerOptions HttpTls { get; set; } = new();

    /// <summary>
    /// Deprecated, on by default for old connectors: accept the channel token in the <c>?token=</c> query parameter of
    /// the HTTP/1.1 connector paths when no <c>Authorization</c> header is sent. The token is never logged nor put in
    /// metrics or traces; each such connection logs a warning naming its connector. Turn it off once connectors send
    /// <c>Authorization: Bearer</c>: query strings end up in proxies' access logs.
    /// </summary>
    public bool AllowQueryToken { get; set; } = true;

    /// <summary>How long one write to an HTTP/1.1 connector (a WebSocket frame, an SSE event) may take: a client that
    /// stops reading fills the socket buffers and is disconnected after this, its leases released (1 s–10 min).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan HttpSendTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest WebSocket message a connector may send (acks, nacks and heartbeats are small); a larger one
    /// closes the connection with 1009 (1 KiB–1 MiB, default 64 KiB).</summary>
    [Range(1024, 1024 * 1024)]
    public int MaxClientFrameBytes { get; set; } = 64 * 1024;

    /// <summary>Address of the internal gRPC listener (<see cref="InternalPort"/>).</summary>
    [Required]
    public string InternalHost { get; set; } = ServiceDefaults.ListenerDefaults.Host;

    /// <summary>The internal gRPC port (h2c): <c>PublishService</c> for ingress, <c>QueueAdminService</c> for admin,
    /// reflection and health. Keep it off the network connectors reach (SPEC §14).</summary>
    [Range(1, 65535)]
    public int InternalPort { get; set; } = 5004;

    /// <summary>TLS for the internal port (PEM files, reloaded on change); ingress and admin then use an
    /// <c>https://</c> address and, for a private CA, <c>QueueManagerCaFile</c>. Empty: plaintext.</summary>
    public ServiceDefaults.Tls.TlsListenerOptions InternalTls { get; set; } = new();

    /// <summary>
    /// Shared secret for the internal APIs: every call on the internal port must carry
    /// <c>authorization: Bearer &lt;token&gt;</c>. Required: queue-manager refuses to start without it unless
    /// <see cref="AllowInternalWithoutToken"/> is set for a loopback-only listener.
    /// </summary>
    [DataType(DataType.Password)]
    public string InternalToken { get; set; } = "";

    /// <summary>A file holding <see cref="InternalToken"/> (a mounted Kubernetes secret); read at start-up,
    /// surrounding whitespace ignored. Wins over <see cref="InternalToken"/> when both are set.</summary>
    public string InternalTokenFile { get; set; } = "";

    /// <summary>
    /// Development only: serve the internal APIs without a token. Allowed only when <see cref="InternalHost"/> is a
    /// loopback address (127.0.0.1 or ::1), so only processes on the same machine can call them (the dev stack).
    /// </summary>
    public bool AllowInternalWithoutToken { get; set; }

    /// <summary>This process's name in connection lists and logs; default: host name plus a random suffix.</summary>
    public string ReplicaId { get; set; } = "";

    /// <summary>How often each replica sweeps every channel: lease expiry, due retries, TTL (0.1–60 s).</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:01:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most messages each step of one sweep handles; more are handled by the next sweep right away.</summary>
    [Range(10, 100_000)]
    public int SweepBatchSize { get; set; } = 1000;

    /// <summary>How long the id of an acked or expired message is remembered, so that a late replay of the same
    /// publish (for example from the ingress spool after a lost response) is not queued again.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan SettledIdRetention { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Application ping interval on Connect streams (SPEC §7); a peer silent for two intervals is dead.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Most message bytes one Connect stream may hold in this process on their way to a connector: leased but not yet
    /// written to the network (a connector that stops reading leaves them here). No more messages are leased to the
    /// stream while it holds this much; a batch never exceeds it, except a single message larger than it.
    /// 64 KiB–1 GiB; default 16 MiB (issue 20, finding 7).
    /// </summary>
    [Range(64 * 1024, 1024L * 1024 * 1024)]
    public long StreamBufferBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>How long a registered connection counts after its replica's last refresh (crash detection for
    /// <c>max_connections</c>); refreshed every third of it.</summary>
    [Range(typeof(TimeSpan), "00:00:03", "00:10:00")]
    public TimeSpan ConnectionLiveness { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>On shutdown, how long streams may settle after <c>Draining</c> before they end with UNAVAILABLE.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan DrainGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The Retry-After suggested when a channel is full (RESOURCE_EXHAUSTED, trailer retry-after-ms).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan QueueFullRetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The byte budget (<c>max_queue_bytes</c>) of a channel created without one, and of channels stored before the
    /// setting existed: what its messages (waiting, delayed, in flight, dead letters) may occupy in Redis.
    /// 10 MiB (the default <c>max_message_bytes</c>, so a channel created with defaults can hold its largest
    /// message) to 1 TiB; default 256 MiB (reasons at <c>ChannelDefaults.MaxQueueBytes</c>).
    /// </summary>
    [Range(10L * 1024 * 1024, 1L << 40)]
    public long DefaultMaxQueueBytes { get; set; } = Channels.ChannelDefaults.MaxQueueBytes;

    /// <summary>
    /// Events one TailChannel call may have waiting for its reader (docs/history.md). A reader further behind is cut
    /// off with RESOURCE_EXHAUSTED rather than buffered without bound or slowing delivery. 16–100 000; default 2 000.
    /// </summary>
    [Range(16, 100_000)]
    public int TailBufferEvents { get; set; } = 2000;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (InternalTokenFile.Length > 0 && !File.Exists(InternalTokenFile))
        {
            yield return new ValidationResult($"file not found (the internal token file).", [nameof(InternalTokenFile)]);
        }

        foreach (var (name, value) in new[] { (nameof(Host), Host), (nameof(InternalHost), InternalHost), (nameof(HttpHost), HttpHost) })
        {
            if (!IPAddress.TryParse(value, out _))
            {
                yield return new ValidationResult("must be an IP address, e.g. 0.0.0.0 or 127.0.0.1.", [name]);
            }
        }

        if (Port == InternalPort)
        {
            yield return new ValidationResult(
                $"must differ from QueueManager:Port ({Port}): Connect is public, the internal APIs are not.", [nameof(InternalPort)]);
        }

        if (HttpPort == Port || HttpPort == InternalPort)
        {
            yield return new ValidationResult(
                $"must differ from QueueManager:Port ({Port}) and QueueManager:InternalPort ({InternalPort}): the HTTP/1.1 connector protocols have a port of their own.", [nameof(HttpPort)]);
        }

        var hasToken = InternalTokenFile.Length > 0 || InternalToken.Trim().Length > 0;
        if (!hasToken && !AllowInternalWithoutToken)
        {
            yield return new ValidationResult(
                "is empty: the internal APIs (Publish, queue admin) need a shared token; set QueueManager:InternalToken "
                + "or QueueManager:InternalTokenFile (and the same token in Ingress:QueueManagerToken and Admin:QueueManagerToken), "
                + "or, for development on one machine, QueueManager:AllowInternalWithoutToken=true with QueueManager:InternalHost=127.0.0.1.",
                [nameof(InternalToken)]);
        }

        if (!hasToken && AllowInternalWithoutToken && !(IPAddress.TryParse(InternalHost, out var address) && IPAddress.IsLoopback(address)))
        {
            yield return new ValidationResult(
                "must be a loopback address (e.g. 127.0.0.1) while QueueManager:AllowInternalWithoutToken serves the internal APIs without a token.",
                [nameof(InternalHost)]);
        }
    }
}

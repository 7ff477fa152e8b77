using System.ComponentModel.DataAnnotations;
using System.Net;
using WebhookConnect.ServiceDefaults.Grpc;
using WebhookConnect.ServiceDefaults.Tls;

namespace WebhookConnect.Ingress;

/// <summary>Settings of the ingress service (configuration section <c>Ingress</c>).</summary>
public sealed class IngressOptions : IValidatableObject
{
    public const string SectionName = "Ingress";

    /// <summary>The queue-manager's internal gRPC address (PublishService, port 5004): <c>http://host:port</c>, or
    /// <c>dns:///host:port</c> / <c>static:///host1:port1,host2:port2</c> to spread publishes round-robin over every
    /// address of a headless Service or of the list.</summary>
    [Required]
    public string QueueManager { get; set; } = "http://127.0.0.1:5004";

    /// <summary>The queue-manager's internal token, when it has one (<c>QueueManager:InternalToken</c> there).</summary>
    [DataType(DataType.Password)]
    public string QueueManagerToken { get; set; } = "";

    /// <summary>A file holding <see cref="QueueManagerToken"/> (a mounted secret); wins over it when both are set.</summary>
    public string QueueManagerTokenFile { get; set; } = "";

    /// <summary>Address of the webhook listener.</summary>
    [Required]
    public string Host { get; set; } = ServiceDefaults.ListenerDefaults.Host;

    /// <summary>The webhook port (HTTP/1.1 and HTTP/2).</summary>
    [Range(1, 65535)]
    public int Port { get; set; } = 8080;

    /// <summary>TLS for the webhook port (PEM files, reloaded on change); empty: plaintext (a load balancer or a
    /// mesh ends TLS in front of it).</summary>
    public TlsListenerOptions Tls { get; set; } = new();

    /// <summary>PEM file of the CA(s) that signed queue-manager's internal certificate (<c>QueueManager:InternalTls</c>),
    /// trusted instead of the system store; needs an <c>https://</c> address, and turns TLS on for <c>dns:///</c> and
    /// <c>static:///</c> ones. Empty (default): the system store for <c>https://</c>, cleartext otherwise.</summary>
    public string QueueManagerCaFile { get; set; } = "";

    /// <summary>Directory of the durable spool (written while the queue is unreachable).</summary>
    [Required]
    public string SpoolPath { get; set; } = "spool";

    /// <summary>Largest size of the spool file; beyond it, while the queue is unreachable, webhooks get 503.</summary>
    [Range(4096L, long.MaxValue)]
    public long SpoolMaxBytes { get; set; } = 1L << 30;

    /// <summary>Largest body accepted by any endpoint (the channel's own <c>max_message_bytes</c> applies below it).</summary>
    [Range(1, 16 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 15 * 1024 * 1024;

    /// <summary>Most body bytes held in memory by all requests together (bodies being read, verified or published);
    /// a request that would go above it gets 503 + <c>Retry-After</c>. Buffers grow as bytes arrive, so this counts
    /// memory really held, never a declared <c>Content-Length</c> (docs/ingress.md, "Bodies in memory").</summary>
    [Range(1024L * 1024, 1L << 40)]
    public long MaxBodyBytesInFlight { get; set; } = 256L * 1024 * 1024;

    /// <summary>Longest time a request may take to send its whole body, from the end of its headers; a slower body
    /// gets 408 and its connection is closed. Kestrel's minimum data rate (240 B/s after a 5 s grace) applies too.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan BodyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest time a connection may take to send its first bytes (which tell HTTP/1.1 from h2c) and each
    /// request's whole header (Kestrel's <c>RequestHeadersTimeout</c>); a slower connection is closed.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Failed verifications (401) one source may spend on one endpoint at once, the burst of a token bucket
    /// per (endpoint, source); once it is empty that source's requests to that endpoint get 429 + <c>Retry-After</c>
    /// before their bodies are read. 0 turns the limit off.</summary>
    [Range(0, 1_000_000)]
    public int FailedVerificationBurst { get; set; } = 20;

    /// <summary>Tokens per second that come back to each of those buckets.</summary>
    [Range(0.001, 1_000_000.0)]
    public double FailedVerificationsPerSecond { get; set; } = 1;

    /// <summary>Most request headers; more get 431.</summary>
    [Range(1, 10_000)]
    public int MaxHeaderCount { get; set; } = 100;

    /// <summary>Largest total size of the request headers in bytes; more get 431.</summary>
    [Range(1024, 1024 * 1024)]
    public int MaxHeadersTotalBytes { get; set; } = 32 * 1024;

    /// <summary>Deadline of one Publish call; a call that takes longer counts as the queue being unreachable (spool).</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:01:00")]
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Coalesce concurrent requests into PublishBatch calls (true, the default) instead of one unary Publish
    /// per request; measured about 3.5 times faster (docs/ingress.md, "Throughput").</summary>
    public bool PublishBatching { get; set; } = true;

    /// <summary>Most messages in one coalesced PublishBatch call.</summary>
    [Range(1, 1000)]
    public int PublishBatchSize { get; set; } = 256;

    /// <summary>PublishBatch calls in flight at once from the request path.</summary>
    [Range(1, 256)]
    public int PublishConcurrency { get; set; } = 16;

    /// <summary>First delay of the spool replayer after a failed replay; it doubles up to <see cref="SpoolReplayMaxDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.01", "00:10:00")]
    public TimeSpan SpoolReplayInitialDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest delay between replay attempts.</summary>
    [Range(typeof(TimeSpan), "00:00:00.01", "01:00:00")]
    public TimeSpan SpoolReplayMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The Retry-After sent with 503 when the spool or the body budget is full, or no endpoint table has
    /// arrived yet.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan UnavailableRetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a request signed by a preset without a timestamp (hmac, github, shopify) is remembered, so
    /// that the same signed request sent again within it is a duplicate, not a second message (docs/ingress.md,
    /// "Replays and duplicates"). Timestamped presets (stripe, standard-webhooks, slack) are remembered for as long
    /// as their tolerance lets a copy verify, whatever this says. Default 24 h, the default channel TTL; 0 turns it
    /// off. Each remembered request costs Redis about 250 bytes for the window (docs/queue-manager.md).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan ReplayWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>The token actually sent to the queue-manager: the file's content when a file is set.</summary>
    public string EffectiveQueueManagerToken() =>
        BearerToken.Configured(QueueManagerToken, QueueManagerTokenFile);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(Host, out _))
        {
            yield return new ValidationResult("must be an IP address, e.g. 0.0.0.0 or 127.0.0.1.", [nameof(Host)]);
        }

        if (!GrpcClientDefaults.IsValidAddress(QueueManager, out var addressProblem))
        {
            yield return new ValidationResult($"{addressProblem}: use e.g. http://queue-manager:5004 or dns:///queue-manager-headless:5004.", [nameof(QueueManager)]);
        }

        if (GrpcClientDefaults.CaFileProblem(QueueManager, QueueManagerCaFile) is { } caProblem)
        {
            yield return new ValidationResult(caProblem, [nameof(QueueManagerCaFile)]);
        }

        if (QueueManagerTokenFile.Length > 0 && !File.Exists(QueueManagerTokenFile))
        {
            yield return new ValidationResult("file not found (the queue-manager token file).", [nameof(QueueManagerTokenFile)]);
        }

        if (SpoolPath.Length > 0 && SpoolDirectoryProblem(SpoolPath) is { } problem)
        {
            yield return new ValidationResult(problem, [nameof(SpoolPath)]);
        }

        if (MaxBodyBytesInFlight < MaxBodyBytes)
        {
            yield return new ValidationResult($"must be at least Ingress:MaxBodyBytes ({MaxBodyBytes}), or a body of the largest allowed size could never be read.", [nameof(MaxBodyBytesInFlight)]);
        }

        if (SpoolReplayMaxDelay < SpoolReplayInitialDelay)
        {
            yield return new ValidationResult("must be at least Ingress:SpoolReplayInitialDelay.", [nameof(SpoolReplayMaxDelay)]);
        }
    }

    /// <summary>Why the spool directory cannot be used (it cannot be created, or a file cannot be written in it), or
    /// null. Checked at start-up so an operator sees the setting at fault instead of a crash on the first outage.</summary>
    private static string? SpoolDirectoryProblem(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
            using var probe = new FileStream(
                Path.Combine(path, ".write-probe"), FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
            probe.WriteByte(0);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return "the spool directory cannot be created or written (" + ex.GetType().Name + ").";
        }
    }
}

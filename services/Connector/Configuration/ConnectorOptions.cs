using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace WebhookConnect.Connector.Configuration;

/// <summary>
/// Settings of the connector (configuration section <c>Connector</c>). Defaults live here and nowhere else: the
/// CLI's <c>--help</c> prints them from a fresh instance. Where they come from (file &lt; environment &lt; flags) is
/// <see cref="ConnectorConfiguration"/>'s business.
/// </summary>
public sealed class ConnectorOptions : IValidatableObject
{
    public const string SectionName = "Connector";

    /// <summary>How this connector names itself to queue-manager (ListConnections). Default: the host name.</summary>
    public string ConnectorId { get; set; } = Environment.MachineName;

    public QueueManagerConnectionOptions QueueManager { get; set; } = new();

    /// <summary>One stream per entry, each with its own channel, token and <c>max_in_flight</c>.</summary>
    public List<SubscriptionOptions> Subscriptions { get; set; } = [];

    /// <summary>Short local retries of a failed target call before the message is nacked for the cloud's backoff.</summary>
    public LocalRetryOptions Retry { get; set; } = new();

    public ReconnectOptions Reconnect { get; set; } = new();

    /// <summary>Most HTTP connections to one target host:port (0: no limit, one per concurrent delivery). Fewer
    /// connections cost the target less; beyond the limit requests wait for a free connection.</summary>
    public int TargetMaxConnections { get; set; }

    /// <summary>On SIGTERM, how long in-flight deliveries may finish before the rest are nacked for redelivery.</summary>
    public TimeSpan DrainGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Sender headers never passed on to a target, comma-separated: names, or prefixes ending in <c>*</c>;
    /// <c>none</c> drops none. Setting it replaces the default list (<see cref="Delivery.DroppedHeaders.Default"/>);
    /// a target's own <c>headers</c> are always sent.</summary>
    public string DropHeaders { get; set; } = Delivery.DroppedHeaders.Default;

    /// <summary>More headers to drop, added to <see cref="DropHeaders"/> (same syntax); default none.</summary>
    public string AlsoDropHeaders { get; set; } = "";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (name, list) in new[] { (nameof(DropHeaders), DropHeaders), (nameof(AlsoDropHeaders), AlsoDropHeaders) })
        {
            foreach (var entry in Delivery.DroppedHeaders.Entries(list))
            {
                if (Delivery.DroppedHeaders.Problem(entry) is { } problem)
                {
                    yield return new ValidationResult($"{problem} (a comma-separated list such as 'Authorization, Cookie, X-Forwarded-*', or 'none').", [name]);
                }
            }
        }

        if (Subscriptions.Count == 0)
        {
            yield return new ValidationResult(
                "no subscription: give at least one channel (--channel, Connector__Subscriptions__0__Channel, or 'subscriptions:' in the config file).",
                [nameof(Subscriptions)]);
        }

        if (DrainGracePeriod < TimeSpan.Zero || DrainGracePeriod > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult("must be between 00:00:00 and 01:00:00.", [nameof(DrainGracePeriod)]);
        }

        if (TargetMaxConnections is < 0 or > 100_000)
        {
            yield return new ValidationResult("must be between 0 (no limit) and 100000.", [nameof(TargetMaxConnections)]);
        }

        var channels = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Subscriptions.Count; i++)
        {
            var prefix = $"{nameof(Subscriptions)}:{i.ToString(CultureInfo.InvariantCulture)}:";
            foreach (var failure in Subscriptions[i].Validate(prefix))
            {
                yield return failure;
            }

            if (!string.IsNullOrEmpty(Subscriptions[i].Channel) && !channels.Add(Subscriptions[i].Channel))
            {
                yield return new ValidationResult("the channel appears in two subscriptions; one stream per channel is enough (raise max_in_flight instead).", [prefix + nameof(SubscriptionOptions.Channel)]);
            }
        }
    }
}

/// <summary>Where queue-manager is and how to reach it (section <c>Connector:QueueManager</c>).</summary>
public sealed class QueueManagerConnectionOptions : IValidatableObject
{
    /// <summary><c>host:port</c> (TLS unless <see cref="Insecure"/>), an explicit <c>https://</c> / <c>http://</c>
    /// address, or <c>dns:///host:port</c> / <c>static:///host1:port1,host2:port2</c> (TLS unless
    /// <see cref="Insecure"/>): every address the name resolves to (a headless Service's replicas) or the list names
    /// gets a connection and streams are spread round-robin.</summary>
    [Required]
    public string Address { get; set; } = "127.0.0.1:5001";

    /// <summary>Plaintext HTTP/2 (h2c), for local development only. Required for an <c>http://</c> address.</summary>
    public bool Insecure { get; set; }

    /// <summary>PEM file of the CA that signed queue-manager's certificate; empty: the system's trust store.</summary>
    public string CaFile { get; set; } = "";

    /// <summary>PEM client certificate for mutual TLS; needs <see cref="ClientKeyFile"/>.</summary>
    public string ClientCertFile { get; set; } = "";

    /// <summary>PEM private key of <see cref="ClientCertFile"/>.</summary>
    public string ClientKeyFile { get; set; } = "";

    /// <summary>HTTP/2 PING after this much silence on the connection (transport keepalive; the application
    /// keepalive is queue-manager's Ping every heartbeat_interval, answered with Pong).</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A PING unanswered for this long closes the connection and the streams reconnect.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How the streams reach queue-manager (SPEC §16, docs/connector.md "Protocols"): <c>grpc</c> (the
    /// <c>Connect</c> stream over HTTP/2), <c>websocket</c>, <c>sse</c>, <c>long-poll</c> (HTTP/1.1, on
    /// <see cref="HttpAddress"/>), or <c>auto</c>: gRPC, and WebSocket when the gRPC handshake shows that HTTP/2 does
    /// not get through (a proxy answering HTTP/1.1, a protocol error at the HTTP/2 preface).</summary>
    public string Protocol { get; set; } = Protocols.ConnectProtocols.Auto;

    /// <summary>queue-manager's HTTP/1.1 connector port (WebSocket, SSE, long-poll): <c>host:port</c> or an
    /// <c>https://</c> / <c>http://</c> address without a path. Empty (the default): the host of <see cref="Address"/>
    /// (its first host for <c>dns:///</c> / <c>static:///</c>) with port 5003, TLS unless <see cref="Insecure"/>.</summary>
    public string HttpAddress { get; set; } = "";

    /// <summary>The port queue-manager serves the HTTP/1.1 connector protocols on by default (SPEC §14).</summary>
    public const int DefaultHttpPort = 5003;

    /// <summary>The effective HTTP/1.1 address (http:// or https://, no path), once validated.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Uri HttpUri
    {
        get
        {
            if (HttpAddress.Length > 0)
            {
                return new Uri(HttpAddress.Contains("://", StringComparison.Ordinal) ? HttpAddress : (Insecure ? "http://" : "https://") + HttpAddress);
            }

            var host = IsBalanced ? FirstBalancedHost(Address) : Uri.Host;
            var plaintext = IsBalanced ? Insecure : Uri.Scheme == "http";
            return new UriBuilder(plaintext ? "http" : "https", host, DefaultHttpPort).Uri;
        }
    }

    /// <summary>The host of the first entry of a <c>dns:///host:port</c> or <c>static:///h1:p1,h2:p2</c> address.</summary>
    private static string FirstBalancedHost(string address)
    {
        var rest = address[(address.IndexOf(":///", StringComparison.Ordinal) + 4)..];
        var first = rest.Split(',')[0];
        var colon = first.LastIndexOf(':');
        var host = colon > 0 ? first[..colon] : first;
        return host.Trim('[', ']');
    }

    /// <summary>The effective address with its scheme, once validated.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Uri Uri => new(Address.Contains("://", StringComparison.Ordinal) ? Address : (Insecure ? "http://" : "https://") + Address);

    /// <summary>True for a <c>dns:///</c> or <c>static:///</c> address (client-side round-robin).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsBalanced => ServiceDefaults.Grpc.GrpcClientDefaults.IsBalanced(Address);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Protocols.ConnectProtocols.IsKnown(Protocol))
        {
            yield return new ValidationResult($"must be one of {Protocols.ConnectProtocols.List}.", [nameof(Protocol)]);
        }

        foreach (var failure in ValidateHttpAddress())
        {
            yield return failure;
        }

        if (IsBalanced)
        {
            if (!ServiceDefaults.Grpc.GrpcClientDefaults.IsValidAddress(Address, out var problem))
            {
                yield return new ValidationResult($"{problem} (e.g. dns:///queue-manager-headless:5001 or static:///10.0.0.5:5001,10.0.0.6:5001).", [nameof(Address)]);
            }

            yield break;
        }

        var hasScheme = Address.Contains("://", StringComparison.Ordinal);
        var candidate = hasScheme ? Address : "https://" + Address;
        if (!Uri.TryCreate(candidate, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") ||
            uri.AbsolutePath != "/" || !string.IsNullOrEmpty(uri.Query) || (!hasScheme && uri.IsDefaultPort && !Address.EndsWith(":443", StringComparison.Ordinal)))
        {
            yield return new ValidationResult("must be host:port (e.g. queue-manager:5001) or an https:// or http:// address without a path.", [nameof(Address)]);
            yield break;
        }

        if (uri.Scheme == "http" && !Insecure)
        {
            yield return new ValidationResult("is plaintext (http://); set Insecure (--insecure) to allow an unencrypted connection, or use https://.", [nameof(Address)]);
        }

        if (uri.Scheme == "https" && hasScheme && Insecure)
        {
            yield return new ValidationResult("is https:// but Insecure (--insecure) asks for plaintext; use one or the other.", [nameof(Address)]);
        }

        if (Insecure && (CaFile.Length > 0 || ClientCertFile.Length > 0))
        {
            yield return new ValidationResult("TLS files are set but Insecure (--insecure) turns TLS off.", [nameof(Insecure)]);
        }

        foreach (var (name, path) in new[] { (nameof(CaFile), CaFile), (nameof(ClientCertFile), ClientCertFile), (nameof(ClientKeyFile), ClientKeyFile) })
        {
            if (path.Length > 0 && !File.Exists(path))
            {
                yield return new ValidationResult("file not found.", [name]);
            }
        }

        if ((ClientCertFile.Length > 0) != (ClientKeyFile.Length > 0))
        {
            yield return new ValidationResult("a client certificate needs both ClientCertFile and ClientKeyFile.", [ClientCertFile.Length > 0 ? nameof(ClientKeyFile) : nameof(ClientCertFile)]);
        }

        if (KeepAliveInterval <= TimeSpan.Zero)
        {
            yield return new ValidationResult("must be positive.", [nameof(KeepAliveInterval)]);
        }

        if (KeepAliveTimeout <= TimeSpan.Zero)
        {
            yield return new ValidationResult("must be positive.", [nameof(KeepAliveTimeout)]);
        }
    }

    private IEnumerable<ValidationResult> ValidateHttpAddress()
    {
        if (HttpAddress.Length == 0)
        {
            yield break;
        }

        var hasScheme = HttpAddress.Contains("://", StringComparison.Ordinal);
        if (!Uri.TryCreate(hasScheme ? HttpAddress : "https://" + HttpAddress, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") ||
            uri.AbsolutePath != "/" || !string.IsNullOrEmpty(uri.Query) || (!hasScheme && uri.IsDefaultPort && !HttpAddress.EndsWith(":443", StringComparison.Ordinal)))
        {
            yield return new ValidationResult("must be host:port (e.g. queue-manager:5003) or an https:// or http:// address without a path.", [nameof(HttpAddress)]);
        }
        else if (uri.Scheme == "http" && hasScheme && !Insecure)
        {
            yield return new ValidationResult("is plaintext (http://); set Insecure (--insecure) to allow an unencrypted connection, or use https://.", [nameof(HttpAddress)]);
        }
        else if (uri.Scheme == "https" && hasScheme && Insecure)
        {
            yield return new ValidationResult("is https:// but Insecure (--insecure) asks for plaintext; use one or the other.", [nameof(HttpAddress)]);
        }
    }
}

/// <summary>One channel subscription: a stream of its own (<c>Connector:Subscriptions:N</c>).</summary>
public sealed partial class SubscriptionOptions
{
    public string Channel { get; set; } = "";

    /// <summary>The channel token itself, for environment variables (<c>Connector__Subscriptions__0__Token</c>); never logged.</summary>
    [DataType(DataType.Password)]
    public string Token { get; set; } = "";

    /// <summary>The name of an environment variable that holds the token.</summary>
    public string TokenEnv { get; set; } = "";

    /// <summary>A file that holds the token (a mounted secret). Read again before every connection attempt, so
    /// a token fixed or rotated in the file is picked up without a restart.</summary>
    public string TokenFile { get; set; } = "";

    /// <summary>Most deliveries in flight on this stream; 0 takes the channel's <c>max_in_flight</c>.</summary>
    public int MaxInFlight { get; set; } = 100;

    /// <summary>Where messages of endpoints without their own target go; none: such messages are dead-lettered.</summary>
    public TargetOptions? DefaultTarget { get; set; }

    /// <summary>Targets by endpoint id.</summary>
    public Dictionary<string, TargetOptions> Targets { get; set; } = new(StringComparer.Ordinal);

    public TargetOptions? TargetFor(string endpointId) =>
        Targets.TryGetValue(endpointId, out var target) ? target : DefaultTarget;

    internal IEnumerable<ValidationResult> Validate(string prefix)
    {
        if (!ChannelName().IsMatch(Channel))
        {
            yield return new ValidationResult("must be a channel name (^[a-z0-9][a-z0-9._-]{0,62}$).", [prefix + nameof(Channel)]);
        }

        var sources = (Token.Length > 0 ? 1 : 0) + (TokenEnv.Length > 0 ? 1 : 0) + (TokenFile.Length > 0 ? 1 : 0);
        if (sources != 1)
        {
            yield return new ValidationResult(
                sources == 0
                    ? "no token: set one of TokenFile (--token-file), TokenEnv (--token-env) or Token (environment only)."
                    : "set only one of Token, TokenEnv and TokenFile.",
                [prefix + nameof(TokenFile)]);
        }
        else if (TokenEnv.Length > 0 && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(TokenEnv)))
        {
            yield return new ValidationResult("names an environment variable that is not set or empty.", [prefix + nameof(TokenEnv)]);
        }
        else if (TokenFile.Length > 0 && !File.Exists(TokenFile))
        {
            yield return new ValidationResult("file not found.", [prefix + nameof(TokenFile)]);
        }

        if (MaxInFlight is < 0 or > 10_000)
        {
            yield return new ValidationResult("must be between 0 (the channel's value) and 10000.", [prefix + nameof(MaxInFlight)]);
        }

        if (DefaultTarget is null && Targets.Count == 0)
        {
            yield return new ValidationResult("no target: set DefaultTarget:Url (--target) or Targets:<endpoint_id>:Url.", [prefix + nameof(DefaultTarget) + ":" + nameof(TargetOptions.Url)]);
        }

        if (DefaultTarget is not null)
        {
            foreach (var failure in DefaultTarget.Validate(prefix + nameof(DefaultTarget) + ":"))
            {
                yield return failure;
            }
        }

        foreach (var (endpoint, target) in Targets)
        {
            foreach (var failure in target.Validate($"{prefix}{nameof(Targets)}:{endpoint}:"))
            {
                yield return failure;
            }
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,62}$")]
    private static partial System.Text.RegularExpressions.Regex ChannelName();
}

/// <summary>A local HTTP target.</summary>
public sealed class TargetOptions
{
    public string Url { get; set; } = "";

    public string Method { get; set; } = "POST";

    /// <summary>Per attempt; a timeout counts as a retryable failure.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Extra headers set on every request to this target (they replace original headers of the same name).</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    internal IEnumerable<ValidationResult> Validate(string prefix)
    {
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            yield return new ValidationResult("must be an absolute http:// or https:// URL.", [prefix + nameof(Url)]);
        }

        if (Method.Length == 0 || !Method.All(c => c is >= 'A' and <= 'Z'))
        {
            yield return new ValidationResult("must be an HTTP method in capitals, e.g. POST or PUT.", [prefix + nameof(Method)]);
        }

        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult("must be between 00:00:00.001 and 01:00:00.", [prefix + nameof(Timeout)]);
        }
    }
}

/// <summary>Local retries of a failed target call (Polly), before nack(retry) hands the message to the cloud's backoff.</summary>
public sealed class LocalRetryOptions : IValidatableObject
{
    /// <summary>Retries after the first call (so a message gets at most Attempts + 1 calls per delivery); 0: none.</summary>
    public int Attempts { get; set; } = 2;

    /// <summary>Delay before the first retry, doubled for each further one.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(200);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Attempts is < 0 or > 10)
        {
            yield return new ValidationResult("must be between 0 and 10.", [nameof(Attempts)]);
        }

        if (Delay < TimeSpan.Zero || Delay > TimeSpan.FromMinutes(1))
        {
            yield return new ValidationResult("must be between 00:00:00 and 00:01:00.", [nameof(Delay)]);
        }
    }
}

/// <summary>How a broken stream is re-established.</summary>
public sealed class ReconnectOptions : IValidatableObject
{
    /// <summary>Upper bound of the first backoff step (full jitter: the wait is uniform in [0, bound]).</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The bound doubles per failed attempt up to this.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A stream that stayed subscribed this long (or delivered a message) was healthy: the backoff starts over.</summary>
    public TimeSpan HealthyAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait after UNAUTHENTICATED or NOT_FOUND: an operator has to fix something, so retry slowly.</summary>
    public TimeSpan AuthFailureDelay { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (InitialDelay <= TimeSpan.Zero)
        {
            yield return new ValidationResult("must be positive.", [nameof(InitialDelay)]);
        }

        if (MaxDelay < InitialDelay)
        {
            yield return new ValidationResult("must be at least InitialDelay.", [nameof(MaxDelay)]);
        }

        if (HealthyAfter <= TimeSpan.Zero)
        {
            yield return new ValidationResult("must be positive.", [nameof(HealthyAfter)]);
        }

        if (AuthFailureDelay <= TimeSpan.Zero)
        {
            yield return new ValidationResult("must be positive.", [nameof(AuthFailureDelay)]);
        }
    }
}

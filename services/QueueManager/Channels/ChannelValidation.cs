using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Google.Protobuf.WellKnownTypes;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.QueueManager.Channels;

/// <summary>
/// The input rules of channel.proto and admin.proto, in one place. Every failure is a
/// <see cref="ChannelFailure.Invalid"/> whose message names the field and the bad value
/// (<c>settings.max_in_flight = 0: must be between 1 and 10000</c>); secrets and tokens are described, never echoed.
/// </summary>
public static class ChannelValidation
{
    public const string NamePattern = ChannelNames.Rule;
    public const int MinTokenLength = 32;
    public const uint MaxGracePeriodSeconds = 2_592_000;

    private static readonly TimeSpan OneSecond = TimeSpan.FromSeconds(1);

    /// <summary>A channel name, endpoint id or namespace (SPEC §3).</summary>
    public static bool IsValidName(string value) => ChannelNames.IsValid(value);

    public static void Name(string field, string value)
    {
        if (!IsValidName(value))
        {
            throw ChannelException.Invalid($"{field} = {Show(value)}: must match {NamePattern}");
        }
    }

    /// <summary>A connector token given by the operator: at least 32 printable ASCII characters without spaces.</summary>
    public static void Token(string field, string token)
    {
        if (token.Length < MinTokenLength)
        {
            throw ChannelException.Invalid($"{field} (a secret, {token.Length} characters): must be at least {MinTokenLength} characters");
        }

        for (var i = 0; i < token.Length; i++)
        {
            if (token[i] is < '!' or > '~')
            {
                throw ChannelException.Invalid($"{field} (a secret): character {i} is not printable ASCII without spaces");
            }
        }
    }

    public static TimeSpan GracePeriod(bool has, uint seconds, string field = "grace_period_seconds")
    {
        if (!has)
        {
            return ChannelDefaults.TokenGracePeriod;
        }

        return seconds <= MaxGracePeriodSeconds
            ? TimeSpan.FromSeconds(seconds)
            : throw ChannelException.Invalid($"{field} = {seconds}: must be at most {MaxGracePeriodSeconds} (30 days)");
    }

    /// <summary>
    /// Applies the present fields of <paramref name="settings"/> onto <paramref name="current"/> (the defaults on
    /// create, the stored config on update), validating each; absent fields keep their current value.
    /// </summary>
    public static ChannelConfig ApplySettings(ChannelConfig current, ChannelSettings? settings, string path = "settings")
    {
        if (settings is null)
        {
            return current;
        }

        var c = current;
        if (settings.Ttl is { } ttl)
        {
            c = c with { Ttl = DurationIn(path + ".ttl", ttl, OneSecond, TimeSpan.FromDays(30)) };
        }

        if (settings.HasMaxQueueSize)
        {
            c = c with { MaxQueueSize = IntIn(path + ".max_queue_size", settings.MaxQueueSize, 1, 10_000_000) };
        }

        if (settings.HasMaxMessageBytes)
        {
            c = c with { MaxMessageBytes = IntIn(path + ".max_message_bytes", settings.MaxMessageBytes, 1, 15 * 1024 * 1024) };
        }

        if (settings.HasMaxConnections)
        {
            c = c with { MaxConnections = IntIn(path + ".max_connections", settings.MaxConnections, 1, 1_000) };
        }

        if (settings.HasMaxInFlight)
        {
            c = c with { MaxInFlight = IntIn(path + ".max_in_flight", settings.MaxInFlight, 1, 10_000) };
        }

        if (settings.AckTimeout is { } ackTimeout)
        {
            c = c with { AckTimeout = DurationIn(path + ".ack_timeout", ackTimeout, OneSecond, TimeSpan.FromHours(1)) };
        }

        if (settings.HasMaxDeliveryAttempts)
        {
            c = c with { MaxDeliveryAttempts = IntIn(path + ".max_delivery_attempts", settings.MaxDeliveryAttempts, 1, 1_000) };
        }

        if (settings.RetryBackoff is { } backoff)
        {
            c = ApplyBackoff(c, backoff, path + ".retry_backoff");
        }

        if (settings.HasDeadLetterExpired)
        {
            c = c with { DeadLetterExpired = settings.DeadLetterExpired };
        }

        if (settings.HasPaused)
        {
            c = c with { Paused = settings.Paused };
        }

        if (settings.HasMaxQueueBytes)
        {
            c = c with { MaxQueueBytes = LongIn(path + ".max_queue_bytes", settings.MaxQueueBytes, ChannelDefaults.MinQueueBytes, ChannelDefaults.MaxQueueBytesLimit) };
        }

        if (settings.HistoryRetention is { } retention)
        {
            c = c with { HistoryRetention = DurationIn(path + ".history_retention", retention, TimeSpan.Zero, ChannelDefaults.HistoryRetentionLimit) };
        }

        if (settings.HasHistoryMaxBytes)
        {
            c = c with { HistoryMaxBytes = LongIn(path + ".history_max_bytes", settings.HistoryMaxBytes, 0, ChannelDefaults.MaxQueueBytesLimit) };
        }

        // Checked on the merged values: a budget smaller than one message would refuse that message forever.
        if (c.MaxQueueBytes is { } budget && budget < c.MaxMessageBytes)
        {
            throw settings.HasMaxQueueBytes
                ? ChannelException.Invalid($"{path}.max_queue_bytes = {budget}: must be at least {path}.max_message_bytes ({c.MaxMessageBytes})")
                : ChannelException.Invalid($"{path}.max_message_bytes = {c.MaxMessageBytes}: must be at most {path}.max_queue_bytes ({budget})");
        }

        return c;
    }

    private static ChannelConfig ApplyBackoff(ChannelConfig c, RetryBackoff backoff, string path)
    {
        if (backoff.Initial is { } initial)
        {
            c = c with { BackoffInitial = DurationIn(path + ".initial", initial, TimeSpan.Zero, TimeSpan.FromHours(1)) };
        }

        if (backoff.HasMultiplier)
        {
            c = c with { BackoffMultiplier = DoubleIn(path + ".multiplier", backoff.Multiplier, 1.0, 10.0) };
        }

        if (backoff.Max is { } max)
        {
            c = c with { BackoffMax = DurationIn(path + ".max", max, TimeSpan.Zero, TimeSpan.FromHours(24)) };
        }

        if (backoff.HasJitter)
        {
            c = c with { BackoffJitter = DoubleIn(path + ".jitter", backoff.Jitter, 0.0, 1.0) };
        }

        // Checked on the merged values: an update of `initial` alone must not overtake the stored `max`.
        if (c.BackoffMax < c.BackoffInitial)
        {
            throw backoff.Max is not null
                ? ChannelException.Invalid($"{path}.max = {Show(c.BackoffMax)}: must be at least {path}.initial ({Show(c.BackoffInitial)})")
                : ChannelException.Invalid($"{path}.initial = {Show(c.BackoffInitial)}: must be at most {path}.max ({Show(c.BackoffMax)})");
        }

        return c;
    }

    /// <summary>
    /// Checks an endpoint's shape (names, headers, CIDRs, rate limit, tolerances). Required secrets are checked
    /// separately by <see cref="EndpointSecrets"/>, after an empty secret may have been filled from the stored one.
    /// </summary>
    public static void Endpoint(string path, EndpointConfig? endpoint)
    {
        if (endpoint is null)
        {
            throw ChannelException.Invalid($"{path}: is required");
        }

        Name(path + ".id", endpoint.Id);
        if (endpoint.Namespace.Length > 0)
        {
            Name(path + ".namespace", endpoint.Namespace);
        }

        // An endpoint open to anyone is a choice, never an omission (issue 20, finding 5).
        if (endpoint.Verification is not { PresetCase: not Contracts.V1.Verification.PresetOneofCase.None } verification)
        {
            throw ChannelException.Invalid(
                $"{path}.verification: a preset is required (bearer, basic, hmac, github, stripe, standard_webhooks, shopify, slack); "
                + "to accept unverified requests, choose none explicitly: \"verification\": {\"none\": {}} "
                + "(JSON twin and channels file; \"no_verification\" in protobuf and grpcurl)");
        }

        Verification(path + ".verification", verification);

        if (endpoint.RateLimit is { } rateLimit && !(rateLimit.RequestsPerSecond > 0 && double.IsFinite(rateLimit.RequestsPerSecond)))
        {
            throw ChannelException.Invalid($"{path}.rate_limit.requests_per_second = {rateLimit.RequestsPerSecond.ToString(CultureInfo.InvariantCulture)}: must be greater than 0");
        }

        if (endpoint.IpAllowlist is { } allowlist)
        {
            Cidrs(path + ".ip_allowlist.allowed_cidrs", allowlist.AllowedCidrs);
            Cidrs(path + ".ip_allowlist.trusted_proxies", allowlist.TrustedProxies);
        }

        if (endpoint.IdempotencyHeader.Length > 0)
        {
            HeaderName(path + ".idempotency_header", endpoint.IdempotencyHeader);
        }
    }

    /// <summary>Endpoints of one request: each valid, and no URL listed twice.</summary>
    public static void Endpoints(string path, IReadOnlyList<EndpointConfig> endpoints)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < endpoints.Count; i++)
        {
            var itemPath = $"{path}[{i}]";
            Endpoint(itemPath, endpoints[i]);
            if (!seen.Add(EndpointSecrets.Field(endpoints[i])))
            {
                throw ChannelException.Invalid($"{itemPath} = {Show(EndpointSecrets.Field(endpoints[i]))}: the same endpoint (namespace/id) is listed twice");
            }
        }
    }

    public static uint PageSize(uint requested) => requested switch
    {
        0 => 100,
        > 1_000 => throw ChannelException.Invalid($"page_size = {requested}: must be at most 1000"),
        _ => requested,
    };

    /// <summary>An RFC 9110 field name (token): visible ASCII except separators.</summary>
    public static void HeaderName(string field, string value)
    {
        if (value.Length == 0 || !value.All(IsTokenChar))
        {
            throw ChannelException.Invalid($"{field} = {Show(value)}: must be an HTTP header name (RFC 9110 token characters)");
        }
    }

    private static void Verification(string path, Verification verification)
    {
        switch (verification.PresetCase)
        {
            case Contracts.V1.Verification.PresetOneofCase.Bearer when verification.Bearer.Header.Length > 0:
                HeaderName(path + ".bearer.header", verification.Bearer.Header);
                break;
            case Contracts.V1.Verification.PresetOneofCase.Hmac:
                if (verification.Hmac.Header.Length == 0)
                {
                    throw ChannelException.Invalid($"{path}.hmac.header = \"\": is required");
                }

                HeaderName(path + ".hmac.header", verification.Hmac.Header);
                break;
            case Contracts.V1.Verification.PresetOneofCase.Stripe when verification.Stripe.Tolerance is { } tolerance:
                DurationIn(path + ".stripe.tolerance", tolerance, OneSecond, TimeSpan.FromHours(1));
                break;
            case Contracts.V1.Verification.PresetOneofCase.StandardWebhooks:
                if (verification.StandardWebhooks.Tolerance is { } swTolerance)
                {
                    DurationIn(path + ".standard_webhooks.tolerance", swTolerance, OneSecond, TimeSpan.FromHours(1));
                }

                var secret = verification.StandardWebhooks.Secret;
                var key = secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret;
                if (secret.Length > 0 && !IsBase64(key))
                {
                    throw ChannelException.Invalid($"{path}.standard_webhooks.secret (a secret): must be whsec_ followed by base64");
                }

                break;
            case Contracts.V1.Verification.PresetOneofCase.Slack when verification.Slack.Tolerance is { } slackTolerance:
                DurationIn(path + ".slack.tolerance", slackTolerance, OneSecond, TimeSpan.FromHours(1));
                break;
        }
    }

    private static bool IsBase64(string text)
    {
        var buffer = new byte[(text.Length * 3 / 4) + 3];
        return text.Length > 0 && Convert.TryFromBase64String(text, buffer, out _);
    }

    private static void Cidrs(string path, IReadOnlyList<string> cidrs)
    {
        for (var i = 0; i < cidrs.Count; i++)
        {
            var text = cidrs[i];
            // A bare address means /32 or /128 (channel.proto). CIDRs are checked with the parser ingress uses
            // (System.Net.IPNetwork), so whatever is accepted here is understood there the same way.
            var ok = text.Contains('/', StringComparison.Ordinal) ? IPNetwork.TryParse(text, out _) : IPAddress.TryParse(text, out _);
            if (!ok)
            {
                throw ChannelException.Invalid($"{path}[{i}] = {Show(text)}: must be an IP address or a CIDR such as 203.0.113.0/24 or 2001:db8::/32");
            }
        }
    }

    private static bool IsTokenChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9')
            or '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';

    private static int IntIn(string field, uint value, int min, int max) =>
        value >= min && value <= max
            ? (int)value
            : throw ChannelException.Invalid($"{field} = {value}: must be between {min} and {max}");

    private static long LongIn(string field, ulong value, long min, long max) =>
        value >= (ulong)min && value <= (ulong)max
            ? (long)value
            : throw ChannelException.Invalid($"{field} = {value}: must be between {min} and {max}");

    private static double DoubleIn(string field, double value, double min, double max) =>
        value >= min && value <= max
            ? value
            : throw ChannelException.Invalid($"{field} = {value.ToString(CultureInfo.InvariantCulture)}: must be between {min.ToString("0.0", CultureInfo.InvariantCulture)} and {max.ToString("0.0", CultureInfo.InvariantCulture)}");

    private static TimeSpan DurationIn(string field, Duration value, TimeSpan min, TimeSpan max)
    {
        // A non-normalized Duration (mixed signs, nanos out of range) is as invalid as one out of range.
        var valid = value.Nanos is > -1_000_000_000 and < 1_000_000_000
            && !(value.Seconds > 0 && value.Nanos < 0) && !(value.Seconds < 0 && value.Nanos > 0)
            && value.Seconds is > -315_576_000_000 and < 315_576_000_000;
        var span = valid ? value.ToTimeSpan() : TimeSpan.MinValue;
        if (!valid || span < min || span > max)
        {
            var shown = $"{value.Seconds.ToString(CultureInfo.InvariantCulture)}{(value.Nanos == 0 ? "" : "." + Math.Abs(value.Nanos).ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0'))}s";
            throw ChannelException.Invalid($"{field} = {shown}: must be between {Show(min)} and {Show(max)}");
        }

        // Stored in whole milliseconds (ChannelFields); sub-millisecond parts are dropped.
        return TimeSpan.FromMilliseconds(Math.Floor(span.TotalMilliseconds));
    }

    private static string Show(TimeSpan value) =>
        value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";

    /// <summary>A user-supplied value for an error message: quoted, shortened, control characters escaped.</summary>
    private static string Show(string value)
    {
        var shortened = value.Length > 80 ? value[..80] + "…" : value;
        var escaped = string.Concat(shortened.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
        return "\"" + escaped.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    // \z rather than $: `$` also matches before a trailing newline, which would let "name\n" through.
}

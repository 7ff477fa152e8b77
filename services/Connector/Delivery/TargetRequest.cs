using System.Globalization;
using System.Net;
using System.Text;
using WebhookConnect.Connector.Configuration;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Connector.Delivery;

/// <summary>
/// Builds the HTTP request to a target from a message (SPEC §9): the raw body byte for byte, the original headers in
/// their order minus hop-by-hop ones and those the operator drops (<see cref="DroppedHeaders"/>), then the target's extra headers, the <c>X-Webhook-*</c> headers and the
/// message's <c>traceparent</c> (unless the HTTP handler writes the trace context itself, when traces are exported).
/// </summary>
public static class TargetRequest
{
    public const string MessageIdHeader = "X-Webhook-Message-Id";
    public const string ChannelHeader = "X-Webhook-Channel";
    public const string EndpointHeader = "X-Webhook-Endpoint";
    public const string AttemptHeader = "X-Webhook-Attempt";

    /// <summary>n for an operator's n-th resend of the message (admin ResendMessage, ReplayRange); absent otherwise.</summary>
    public const string ResendHeader = "X-Webhook-Resend";

    /// <summary>Connection-specific fields (RFC 9110 §7.6.1) and those the client computes itself (Host,
    /// Content-Length); never forwarded. Fields named in the message's own Connection header are dropped too.</summary>
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Host", "Content-Length", "Expect", "HTTP2-Settings",
    };

    private static readonly HashSet<string> Ours = new(StringComparer.OrdinalIgnoreCase)
    {
        MessageIdHeader, ChannelHeader, EndpointHeader, AttemptHeader, ResendHeader,
    };

    /// <param name="handlerPropagates">True when traces are exported: the HTTP handler writes <c>traceparent</c> and
    /// <c>tracestate</c> from the connector's POST span, so neither the sender's nor the message's are added (the
    /// handler never replaces a header that is already there).</param>
    public static TargetRequestMessage Create(Message message, TargetOptions target, Uri url, DroppedHeaders dropped, bool handlerPropagates, CancellationToken deliveryCancellation)
    {
        var request = new TargetRequestMessage(new HttpMethod(target.Method), url, message.Channel, target.Timeout, deliveryCancellation)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            Content = new ReadOnlyMemoryContent(message.Body.Memory),
        };

        var connectionTokens = ConnectionTokens(message);
        var ownTraceContext = message.Traceparent.Length > 0 || handlerPropagates;
        foreach (var header in message.Headers)
        {
            var name = header.Name;
            if (HopByHop.Contains(name) || Ours.Contains(name) || target.Headers.ContainsKey(name) || dropped.Drops(name) ||
                (connectionTokens is not null && connectionTokens.Contains(name)) ||
                (ownTraceContext && (name.Equals("traceparent", StringComparison.OrdinalIgnoreCase) || name.Equals("tracestate", StringComparison.OrdinalIgnoreCase))))
            {
                continue;
            }

            // Latin-1 maps each byte to one char and back (the handler encodes values as Latin-1), so obs-text bytes
            // 0x80–0xFF reach the target exactly as the sender sent them.
            Add(request, name, Encoding.Latin1.GetString(header.Value.Span));
        }

        foreach (var (name, value) in target.Headers)
        {
            Add(request, name, value);
        }

        request.Headers.TryAddWithoutValidation(MessageIdHeader, message.MessageId);
        request.Headers.TryAddWithoutValidation(ChannelHeader, message.Channel);
        request.Headers.TryAddWithoutValidation(EndpointHeader, message.EndpointId);
        request.Headers.TryAddWithoutValidation(AttemptHeader, message.Attempt.ToString(CultureInfo.InvariantCulture));
        if (message.Resend > 0)
        {
            request.Headers.TryAddWithoutValidation(ResendHeader, message.Resend.ToString(CultureInfo.InvariantCulture));
        }
        if (message.Traceparent.Length > 0 && !handlerPropagates)
        {
            request.Headers.TryAddWithoutValidation("traceparent", message.Traceparent);
            if (message.Tracestate.Length > 0)
            {
                request.Headers.TryAddWithoutValidation("tracestate", message.Tracestate);
            }
        }

        return request;
    }

    private static void Add(HttpRequestMessage request, string name, string value)
    {
        // Request headers first; Content-Type, Content-Encoding and the other content fields belong to the content.
        if (!request.Headers.TryAddWithoutValidation(name, value))
        {
            request.Content!.Headers.TryAddWithoutValidation(name, value);
        }
    }

    private static HashSet<string>? ConnectionTokens(Message message)
    {
        HashSet<string>? tokens = null;
        foreach (var header in message.Headers)
        {
            if (header.Name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                tokens ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                foreach (var token in Encoding.Latin1.GetString(header.Value.Span).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    tokens.Add(token);
                }
            }
        }

        return tokens;
    }
}

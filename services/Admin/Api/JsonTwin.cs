using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using WebhookConnect.Admin.Authentication;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.ServiceDefaults.Grpc;
using QueueAdminClient = WebhookConnect.Contracts.Queue.V1.QueueAdminService.QueueAdminServiceClient;

namespace WebhookConnect.Admin.Api;

/// <summary>
/// The HTTP/JSON twin of AdminService (SPEC §8) under <c>/admin/webhook-connect</c>. Each route authenticates with the
/// same check as gRPC, reads the gRPC request message from the JSON body (protobuf JSON, snake_case names; path and
/// query parameters fill the channel and ids), and goes through the same forwarder to the queue-manager. Responses
/// are written by <see cref="TwinJson"/> (64-bit integers as numbers), errors by <see cref="TwinErrors"/>; for a Get
/// the body is the resource itself.
/// </summary>
public static class JsonTwin
{
    public const string Prefix = "/admin/webhook-connect";

    // Unknown fields are refused (400), so a typo in a field name is not silently ignored.
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);

    private static readonly string Healthy = TwinJson.Format(new JsonObject { ["status"] = "ok" });

    public static void MapJsonTwin(this WebApplication app, int httpPort)
    {
        app.UseTwinErrors(httpPort);

        // The listener the connection reached, not the Host header: behind a Service or an ingress the Host names
        // another port.
        var api = app.MapGroup(Prefix).OnlyOnPort(httpPort);
        api.MapGet("/health", () => TwinJson.Result(Healthy, StatusCodes.Status200OK));

        Route<ListChannelsRequest, ListChannelsResponse>(api, "GET", "/channels", "ListChannels", (r, h) =>
        {
            r.PageSize = Query(h, "page_size");
            r.PageToken = h.Request.Query["page_token"].ToString();
        }, (q, r, o) => q.ListChannelsAsync(r, o), r => r);
        Route<CreateChannelRequest, CreateChannelResponse>(api, "POST", "/channels", "CreateChannel", null, (q, r, o) => q.CreateChannelAsync(r, o), r => r, StatusCodes.Status201Created);
        Route<GetChannelRequest, GetChannelResponse>(api, "GET", "/channels/{channel}", "GetChannel", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.GetChannelAsync(r, o), r => r.Channel);
        Route<UpdateChannelRequest, UpdateChannelResponse>(api, "PATCH", "/channels/{channel}", "UpdateChannel", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.UpdateChannelAsync(r, o), r => r.Channel);
        Route<ApplyChannelRequest, ApplyChannelResponse>(api, "PUT", "/channels/{channel}", "ApplyChannel", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.ApplyChannelAsync(r, o), r => r);
        Route<DeleteChannelRequest, DeleteChannelResponse>(api, "DELETE", "/channels/{channel}", "DeleteChannel", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.DeleteChannelAsync(r, o), r => r);
        Route<AddEndpointRequest, AddEndpointResponse>(api, "POST", "/channels/{channel}/endpoints", "AddEndpoint", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.AddEndpointAsync(r, o), r => r.Channel, StatusCodes.Status201Created);
        Route<UpdateEndpointRequest, UpdateEndpointResponse>(api, "PUT", "/channels/{channel}/endpoints/{endpoint_id}", "UpdateEndpoint", (r, h) =>
        {
            r.Channel = Path(h, "channel");
            r.Endpoint ??= new Contracts.V1.EndpointConfig();
            r.Endpoint.Id = Path(h, "endpoint_id");
        }, (q, r, o) => q.UpdateEndpointAsync(r, o), r => r.Channel);
        Route<RemoveEndpointRequest, RemoveEndpointResponse>(api, "DELETE", "/channels/{channel}/endpoints/{endpoint_id}", "RemoveEndpoint", (r, h) =>
        {
            r.Channel = Path(h, "channel");
            r.EndpointId = Path(h, "endpoint_id");
            r.Namespace = h.Request.Query["namespace"].ToString();
        }, (q, r, o) => q.RemoveEndpointAsync(r, o), r => r.Channel);
        Route<RotateTokenRequest, RotateTokenResponse>(api, "POST", "/channels/{channel}/rotate-token", "RotateToken", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.RotateTokenAsync(r, o), r => r);
        Route<PauseChannelRequest, PauseChannelResponse>(api, "POST", "/channels/{channel}/pause", "PauseChannel", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.PauseChannelAsync(r, o), r => r.Channel);
        Route<ResumeChannelRequest, ResumeChannelResponse>(api, "POST", "/channels/{channel}/resume", "ResumeChannel", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.ResumeChannelAsync(r, o), r => r.Channel);
        Route<ListConnectionsRequest, ListConnectionsResponse>(api, "GET", "/channels/{channel}/connections", "ListConnections", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.ListConnectionsAsync(r, o), r => r);
        Route<ListConnectionsRequest, ListConnectionsResponse>(api, "GET", "/connections", "ListConnections", null, (q, r, o) => q.ListConnectionsAsync(r, o), r => r);
        Route<DisconnectConnectionRequest, DisconnectConnectionResponse>(api, "DELETE", "/channels/{channel}/connections/{connection_id}", "DisconnectConnection", (r, h) =>
        {
            r.Channel = Path(h, "channel");
            r.ConnectionId = Path(h, "connection_id");
        }, (q, r, o) => q.DisconnectConnectionAsync(r, o), r => r);
        Route<GetChannelStatsRequest, GetChannelStatsResponse>(api, "GET", "/channels/{channel}/stats", "GetChannelStats", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.GetChannelStatsAsync(r, o), r => r.Stats);
        Route<GetOverviewRequest, GetOverviewResponse>(api, "GET", "/overview", "GetOverview", (r, h) => r.IncludeChannels = Flag(h, "include_channels"), (q, r, o) => q.GetOverviewAsync(r, o), r => r.Overview);
        Route<ListDeadLettersRequest, ListDeadLettersResponse>(api, "GET", "/channels/{channel}/dead-letters", "ListDeadLetters", (r, h) =>
        {
            r.Channel = Path(h, "channel");
            r.PageSize = Query(h, "page_size");
            r.PageToken = h.Request.Query["page_token"].ToString();
            r.IncludeBody = Flag(h, "include_body");
        }, (q, r, o) => q.ListDeadLettersAsync(r, o), r => r);
        Route<GetDeadLetterRequest, GetDeadLetterResponse>(api, "GET", "/channels/{channel}/dead-letters/{message_id}", "GetDeadLetter", (r, h) =>
        {
            r.Channel = Path(h, "channel");
            r.MessageId = Path(h, "message_id");
        }, (q, r, o) => q.GetDeadLetterAsync(r, o), r => r.DeadLetter);
        Route<ReplayDeadLettersRequest, ReplayDeadLettersResponse>(api, "POST", "/channels/{channel}/dead-letters/replay", "ReplayDeadLetters", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.ReplayDeadLettersAsync(r, o), r => r);
        Route<PurgeDeadLettersRequest, PurgeDeadLettersResponse>(api, "DELETE", "/channels/{channel}/dead-letters", "PurgeDeadLetters", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.PurgeDeadLettersAsync(r, o), r => r);
        Route<PurgeDeadLettersRequest, PurgeDeadLettersResponse>(api, "DELETE", "/channels/{channel}/dead-letters/{message_id}", "PurgeDeadLetters", (r, h) =>
        {
            r.Channel = Path(h, "channel");
            r.MessageIds.Clear();
            r.MessageIds.Add(Path(h, "message_id"));
        }, (q, r, o) => q.PurgeDeadLettersAsync(r, o), r => r);
        Route<PeekMessagesRequest, PeekMessagesResponse>(api, "GET", "/channels/{channel}/messages", "PeekMessages", (r, h) =>
        {
            r.Channel = Path(h, "channel");
            r.Limit = Query(h, "limit");
            r.IncludeBody = Flag(h, "include_body");
        }, (q, r, o) => q.PeekMessagesAsync(r, o), r => r);
        Route<ListMessagesRequest, ListMessagesResponse>(api, "GET", "/channels/{channel}/history", "ListMessages", (r, h) =>
        {
            r.Channel = Path(h, "channel");
            r.States.Add(States(h, "state"));
            r.Endpoint = h.Request.Query["endpoint"].ToString();
            r.ReceivedAfter = Time(h, "received_after");
            r.ReceivedBefore = Time(h, "received_before");
            r.IdempotencyKey = h.Request.Query["idempotency_key"].ToString();
            (r.HeaderName, r.HeaderValue) = Header(h, "header");
            r.PageSize = Query(h, "page_size");
            r.PageToken = h.Request.Query["page_token"].ToString();
            r.IncludeBody = Flag(h, "include_body");
        }, (q, r, o) => q.ListMessagesAsync(r, o), r => r);
        Route<GetMessageRequest, GetMessageResponse>(api, "GET", "/channels/{channel}/history/{message_id}", "GetMessage", (r, h) =>
        {
            r.Channel = Path(h, "channel");
            r.MessageId = Path(h, "message_id");
        }, (q, r, o) => q.GetMessageAsync(r, o), r => r.Record);
        Route<ResendMessageRequest, ResendMessageResponse>(api, "POST", "/channels/{channel}/history/{message_id}/resend", "ResendMessage", (r, h) =>
        {
            r.Channel = Path(h, "channel");
            r.MessageId = Path(h, "message_id");
        }, (q, r, o) => q.ResendMessageAsync(r, o), r => r);
        Route<ReplayRangeRequest, ReplayRangeResponse>(api, "POST", "/channels/{channel}/history/replay", "ReplayRange", (r, h) => r.Channel = Path(h, "channel"), (q, r, o) => q.ReplayRangeAsync(r, o), r => r);
        TwinTail.Map(api);
    }

    private static void Route<TRequest, TResponse>(
        RouteGroupBuilder api,
        string verb,
        string pattern,
        string method,
        Action<TRequest, HttpContext>? fromRoute,
        Func<QueueAdminClient, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call,
        Func<TResponse, IMessage?> body,
        int successCode = StatusCodes.Status200OK)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage
    {
        api.MapMethods(pattern, [verb], async (HttpContext http, AdminAuthentication authentication, AdminForwarder forwarder, QueueAdminClient queue) =>
        {
            // Who is calling, before the body is read; what the call needs, once the request is known (include_body).
            var caller = authentication.Authenticate(http, method, Path(http, "channel"), out var unauthenticated);
            if (caller is null)
            {
                return TwinErrors.Result(unauthenticated);
            }

            TRequest request;
            try
            {
                request = await ReadAsync<TRequest>(http);
            }
            catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException or JsonException)
            {
                return TwinErrors.Result(new Status(StatusCode.InvalidArgument, "the request body is not a valid " + typeof(TRequest).Name + " in JSON: " + ex.Message));
            }
            catch (BadHttpRequestException ex)
            {
                // Kestrel could not read the body (over the size limit, or cut off): its status, our error body.
                http.Response.StatusCode = ex.StatusCode;
                return Results.Empty;
            }

            try
            {
                fromRoute?.Invoke(request, http);
            }
            catch (BadParameterException ex)
            {
                return TwinErrors.Result(new Status(StatusCode.InvalidArgument, ex.Message));
            }

            if (authentication.Authorize(caller, method, request) is { } refusal)
            {
                return TwinErrors.Result(refusal);
            }

            try
            {
                var response = await forwarder.ForwardAsync(http, DateTime.MaxValue, http.RequestAborted, method, request, options => call(queue, request, options).ResponseAsync);
                return TwinJson.Result(TwinJson.Format(body(response)), successCode);
            }
            catch (RpcException ex)
            {
                return TwinErrors.Result(ex.Status);
            }
        });
    }

    private static async Task<TRequest> ReadAsync<TRequest>(HttpContext http)
        where TRequest : IMessage<TRequest>, new()
    {
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync(http.RequestAborted);
        return string.IsNullOrWhiteSpace(text) ? new TRequest() : Parser.Parse<TRequest>(text);
    }

    internal static string Path(HttpContext http, string name) => http.Request.RouteValues[name] as string ?? "";

    private static uint Query(HttpContext http, string name)
    {
        var text = http.Request.Query[name].ToString();
        return text.Length == 0 ? 0
            : uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value
            : throw new BadParameterException($"query parameter {name} = '{text}' is not a non-negative integer");
    }

    internal static bool Flag(HttpContext http, string name) =>
        http.Request.Query[name].ToString() is "true" or "1";

    /// <summary>
    /// <c>state</c>, repeated or comma-separated: the MessageState names without their prefix, any case
    /// (<c>acked</c>, <c>dead_lettered</c>), or the full enum names grpcurl prints (<c>MESSAGE_STATE_ACKED</c>).
    /// </summary>
    private static IEnumerable<MessageState> States(HttpContext http, string name)
    {
        var states = new List<MessageState>();
        foreach (var text in http.Request.Query[name].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            var wanted = text.StartsWith(StatePrefix, StringComparison.OrdinalIgnoreCase) ? text : StatePrefix + text;
            var value = MessageStates.Values.FirstOrDefault(v => v.Number != 0 && string.Equals(v.Name, wanted, StringComparison.OrdinalIgnoreCase))
                ?? throw new BadParameterException($"query parameter {name} = '{text}' is not a message state (one of {string.Join(", ", StateNames)})");
            states.Add((MessageState)value.Number);
        }

        return states;
    }

    private const string StatePrefix = "MESSAGE_STATE_";

    private static readonly Google.Protobuf.Reflection.EnumDescriptor MessageStates = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.EnumDescriptor>("MessageState");

    private static readonly string[] StateNames = MessageStates.Values
        .Where(v => v.Number != 0)
        .Select(v => v.Name[StatePrefix.Length..].ToLowerInvariant())
        .ToArray();

    /// <summary>An RFC 3339 time (<c>2026-12-05T04:31:02Z</c>, an offset instead of Z, fractions allowed), or null when absent.</summary>
    internal static Timestamp? Time(HttpContext http, string name)
    {
        var text = http.Request.Query[name].ToString();
        if (text.Length == 0)
        {
            return null;
        }

        try
        {
            // Protobuf's own JSON mapping of Timestamp is RFC 3339, as the gRPC request's JSON form would be.
            return JsonParser.Default.Parse<Timestamp>(JsonSerializer.Serialize(text));
        }
        catch (InvalidProtocolBufferException)
        {
            throw new BadParameterException($"query parameter {name} = '{text}' is not an RFC 3339 time such as 2026-12-05T04:31:02Z");
        }
    }

    /// <summary><c>header=Name:value</c> (spaces around either part ignored): the header filter, or two empty strings.</summary>
    private static (string Name, string Value) Header(HttpContext http, string name)
    {
        var text = http.Request.Query[name].ToString();
        if (text.Length == 0)
        {
            return ("", "");
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || text[..colon].Trim().Length == 0 || text[(colon + 1)..].Trim().Length == 0)
        {
            throw new BadParameterException($"query parameter {name} = '{text}' is not Name:value (for example X-GitHub-Delivery:72d3162e)");
        }

        return (text[..colon].Trim(), text[(colon + 1)..].Trim());
    }
}

/// <summary>A path or query parameter the twin cannot use: 400 with this message, which names the parameter and its value.</summary>
internal sealed class BadParameterException(string message) : Exception(message);

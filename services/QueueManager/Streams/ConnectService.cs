using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.QueueManager.Channels;
using WebhookConnect.QueueManager.Queue;
using WebhookConnect.QueueManager.Telemetry;
using WebhookConnect.ServiceDefaults.Grpc;

namespace WebhookConnect.QueueManager.Streams;

/// <summary>The Connect RPC (SPEC §7): authenticates the first frame, registers the stream, runs it, and releases
/// whatever it still holds when it ends.</summary>
public sealed class ConnectService(
    ConnectionOpener opener,
    ConnectionRegistry registry,
    IOptions<QueueManagerOptions> options) : Contracts.V1.ConnectService.ConnectServiceBase
{
    private static readonly TimeSpan SubscribeTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Limits of what a Subscribe frame may ask to store (docs/queue-manager.md, "Limits of a stream").</summary>
    public const int MaxLabels = 32;

    public const int MaxLabelKeyLength = 64;

    public const int MaxLabelValueLength = 256;

    public const int MaxConnectorVersionLength = 64;
    private readonly QueueManagerOptions _options = options.Value;

    public override async Task Connect(IAsyncStreamReader<ConnectRequest> requestStream, IServerStreamWriter<ConnectResponse> responseStream, ServerCallContext context)
    {
        opener.RefuseWhileDraining();

        // A missing or malformed token is refused at once, without waiting for the first frame.
        var token = ReadToken(context.RequestHeaders);
        var subscribe = await ReadSubscribeAsync(requestStream, context.CancellationToken);
        var (connection, config) = await opener.OpenAsync(new ConnectionRequest(
            subscribe.Channel,
            token,
            ConnectProtocols.Grpc,
            context.GetHttpContext().Connection.RemoteIpAddress?.ToString() ?? "",
            subscribe.ConnectorId,
            subscribe.ConnectorVersion,
            subscribe.MaxInFlight,
            subscribe.Labels));
        var why = "client closed the stream";
        try
        {
            var subscribed = opener.Subscribed(connection, config);
            var status = await connection.RunAsync(subscribed, requestStream, responseStream, context.CancellationToken);
            if (status is { } failure)
            {
                throw new RpcException(failure);
            }
        }
        catch (RpcException ex)
        {
            why = $"{ex.StatusCode}: {ex.Status.Detail}";
            throw;
        }
        finally
        {
            await registry.RemoveAsync(connection, why);
        }
    }

    private static async Task<Subscribe> ReadSubscribeAsync(IAsyncStreamReader<ConnectRequest> requests, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(SubscribeTimeout);
        bool any;
        try
        {
            any = await requests.MoveNext(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw Invalid($"no subscribe frame within {SubscribeTimeout.TotalSeconds:0} s of opening the stream");
        }

        if (!any)
        {
            throw Invalid("the stream ended before a subscribe frame");
        }

        var first = requests.Current;
        if (first.FrameCase != ConnectRequest.FrameOneofCase.Subscribe)
        {
            throw Invalid($"the first frame must be subscribe, got {(first.FrameCase == ConnectRequest.FrameOneofCase.None ? "an empty frame" : first.FrameCase.ToString())}");
        }

        var subscribe = first.Subscribe;
        if (!ChannelNames.IsValid(subscribe.Channel))
        {
            throw Invalid($"subscribe.channel = '{Printable(subscribe.Channel)}': must match {ChannelNames.Rule}");
        }

        if (subscribe.MaxInFlight > 10_000)
        {
            throw Invalid($"subscribe.max_in_flight = {subscribe.MaxInFlight}: must be between 0 (channel default) and 10000");
        }

        if (subscribe.ConnectorId.Length > 128 || subscribe.ConnectorId.Any(char.IsControl))
        {
            throw Invalid("subscribe.connector_id: at most 128 printable characters");
        }

        // Connector id, version and labels are stored with the registration and rewritten to Redis every refresh, for
        // as long as the stream lives: each is bounded (issue 20, finding 7).
        if (subscribe.ConnectorVersion.Length > MaxConnectorVersionLength || subscribe.ConnectorVersion.Any(char.IsControl))
        {
            throw Invalid($"subscribe.connector_version: {subscribe.ConnectorVersion.Length} characters, at most {MaxConnectorVersionLength} printable characters");
        }

        if (subscribe.Labels.Count > MaxLabels)
        {
            throw Invalid($"subscribe.labels: {subscribe.Labels.Count} entries, at most {MaxLabels}");
        }

        foreach (var (key, value) in subscribe.Labels)
        {
            if (key.Length is 0 or > MaxLabelKeyLength || key.Any(char.IsControl))
            {
                throw Invalid($"subscribe.labels: key '{Printable(key)}' has {key.Length} characters, must have 1 to {MaxLabelKeyLength} printable characters");
            }

            if (value.Length > MaxLabelValueLength || value.Any(char.IsControl))
            {
                throw Invalid($"subscribe.labels['{Printable(key)}']: value has {value.Length} characters, at most {MaxLabelValueLength} printable characters");
            }
        }

        return subscribe;
    }

    private static string ReadToken(Metadata headers)
    {
        var value = headers.GetValue("authorization");
        if (value is null)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "missing authorization metadata: send 'authorization: Bearer <channel token>'"));
        }

        return BearerToken.From(value)
            ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "malformed authorization metadata: expected 'Bearer <channel token>'"));
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static string Printable(string text) => text.Length > 80 ? text[..80] + "…" : text;
}

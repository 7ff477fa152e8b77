namespace WebhookConnect.QueueManager.Redis;

/// <summary>
/// What replicas tell each other over the <see cref="GlobalKeys.Events"/> pub/sub channel. Pub/sub is
/// fire-and-forget, so every event is only a hint to act sooner: the state itself is in Redis and periodic
/// sweeps and refreshes catch anything a lost event missed.
/// Payload: <c>kind|channel|connection|text</c>.
/// </summary>
public readonly record struct ClusterEvent(ClusterEventKind Kind, string Channel, string ConnectionId = "", string Text = "")
{
    public static ClusterEvent Wake(string channel) => new(ClusterEventKind.Wake, channel);

    /// <summary>Settings, pause state or tokens changed: reload the config.</summary>
    public static ClusterEvent ChannelChanged(string channel) => new(ClusterEventKind.ChannelChanged, channel);

    public static ClusterEvent ChannelDeleted(string channel) => new(ClusterEventKind.ChannelDeleted, channel);

    public static ClusterEvent Disconnect(string channel, string connectionId, string reason) =>
        new(ClusterEventKind.Disconnect, channel, connectionId, reason);

    /// <summary>The endpoint table changed (WatchEndpoints feeds).</summary>
    public static ClusterEvent EndpointsChanged() => new(ClusterEventKind.EndpointsChanged, "");

    public string Serialize() => string.Join('|', KindText(Kind), Channel, ConnectionId, Text);

    public static bool TryParse(string? payload, out ClusterEvent value)
    {
        value = default;
        if (payload is null)
        {
            return false;
        }

        var parts = payload.Split('|', 4);
        if (parts.Length != 4)
        {
            return false;
        }

        ClusterEventKind? kind = parts[0] switch
        {
            "wake" => ClusterEventKind.Wake,
            "channel" => ClusterEventKind.ChannelChanged,
            "deleted" => ClusterEventKind.ChannelDeleted,
            "disconnect" => ClusterEventKind.Disconnect,
            "endpoints" => ClusterEventKind.EndpointsChanged,
            _ => null,
        };
        if (kind is null)
        {
            return false;
        }

        value = new ClusterEvent(kind.Value, parts[1], parts[2], parts[3]);
        return true;
    }

    private static string KindText(ClusterEventKind kind) => kind switch
    {
        ClusterEventKind.Wake => "wake",
        ClusterEventKind.ChannelChanged => "channel",
        ClusterEventKind.ChannelDeleted => "deleted",
        ClusterEventKind.Disconnect => "disconnect",
        ClusterEventKind.EndpointsChanged => "endpoints",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

public enum ClusterEventKind
{
    Wake,
    ChannelChanged,
    ChannelDeleted,
    Disconnect,
    EndpointsChanged,
}

namespace WebhookConnect.Connector.Protocols;

/// <summary>The values of <c>Connector:QueueManager:Protocol</c> (SPEC §16), spelled once.</summary>
public static class ConnectProtocols
{
    public const string Grpc = "grpc";
    public const string WebSocket = "websocket";
    public const string Sse = "sse";
    public const string LongPoll = "long-poll";
    public const string Auto = "auto";

    public static readonly string List = string.Join(", ", All);

    private static string[] All => [Grpc, WebSocket, Sse, LongPoll, Auto];

    public static bool IsKnown(string? value) => value is not null && Array.IndexOf(All, value) >= 0;
}

using System.Reflection;

namespace WebhookConnect.QueueManager.Queue;

/// <summary>The queue's Lua scripts (Queue/Scripts/*.lua, embedded), each prefixed with common.lua.
/// Every multi-key change of a channel's queue is one of these, so it is atomic.</summary>
public static class QueueScripts
{
    public static readonly string Publish = Load("publish");
    public static readonly string Deliver = Load("deliver");
    public static readonly string Ack = Load("ack");
    public static readonly string Nack = Load("nack");
    public static readonly string Release = Load("release");
    public static readonly string Sweep = Load("sweep");
    public static readonly string Connect = Load("connect");
    public static readonly string Touch = Load("touch");
    public static readonly string Disconnect = Load("disconnect");
    public static readonly string Stats = Load("stats");
    public static readonly string Peek = Load("peek");
    public static readonly string Replay = Load("replay");
    public static readonly string Purge = Load("purge");

    private static string Load(string name) => Read("common") + "\n" + Read(name);

    private static string Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"Scripts.{name}.lua")
            ?? throw new InvalidOperationException($"Embedded script Scripts.{name}.lua is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

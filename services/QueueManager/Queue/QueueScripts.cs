using System.Reflection;
using WebhookConnect.QueueManager.Redis;

namespace WebhookConnect.QueueManager.Queue;

/// <summary>The queue's Lua scripts (Queue/Scripts/*.lua, embedded), each prefixed with common.lua.
/// Every multi-key change of a channel's queue is one of these, so it is atomic.</summary>
public static class QueueScripts
{
    public static readonly RedisScript Publish = Load("publish");
    public static readonly RedisScript Deliver = Load("deliver");
    public static readonly RedisScript Ack = Load("ack");
    public static readonly RedisScript Nack = Load("nack");
    public static readonly RedisScript Release = Load("release");
    public static readonly RedisScript Sweep = Load("sweep");
    public static readonly RedisScript Connect = Load("connect");
    public static readonly RedisScript Touch = Load("touch");
    public static readonly RedisScript Disconnect = Load("disconnect");
    public static readonly RedisScript Stats = Load("stats");
    public static readonly RedisScript Peek = Load("peek");
    public static readonly RedisScript Replay = Load("replay");
    public static readonly RedisScript Purge = Load("purge");
    public static readonly RedisScript Resend = Load("resend");

    /// <summary>Every script above (declared after them: static fields initialise in order).</summary>
    public static readonly IReadOnlyList<RedisScript> All =
        [Publish, Deliver, Ack, Nack, Release, Sweep, Connect, Touch, Disconnect, Stats, Peek, Replay, Purge, Resend];

    private static RedisScript Load(string name) => new(name + ".lua", Read("common") + "\n" + Read(name));

    private static string Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"Scripts.{name}.lua")
            ?? throw new InvalidOperationException($"Embedded script Scripts.{name}.lua is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

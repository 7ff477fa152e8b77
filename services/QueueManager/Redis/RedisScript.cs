using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace WebhookConnect.QueueManager.Redis;

/// <summary>
/// One Lua script, prepared once with <see cref="LuaScript.Prepare"/>. A call hands the script's text to
/// <c>ScriptEvaluateAsync</c> and StackExchange.Redis does the rest, per server and so per Redis Cluster primary:
/// SCRIPT LOAD the first time, then EVALSHA (the 40-byte hash instead of the script), and when a server answers
/// NOSCRIPT (restarted, failed over, SCRIPT FLUSH) it loads the script again and retries the call by itself.
/// <see cref="ScriptPreloader"/> loads every script on every primary ahead of the first call.
/// Keys and arguments are positional (KEYS, ARGV): LuaScript's named parameters cannot carry the variable-length
/// lists the scripts take (a publish batch, a list of ids). <see cref="LoadedLuaScript"/> runs its script the same way.
/// </summary>
public sealed class RedisScript(string name, string text)
{
    private readonly LuaScript _script = LuaScript.Prepare(text);

    /// <summary>The resource name, for logs.</summary>
    public string Name { get; } = name;

    /// <summary>The hash Redis knows the script by (EVALSHA, SCRIPT EXISTS), lower-case hex.</summary>
    public string Sha1 { get; } = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text)));

    public Task<RedisResult> EvaluateAsync(IDatabaseAsync database, RedisKey[] keys, RedisValue[] values) =>
        database.ScriptEvaluateAsync(_script.ExecutableScript, keys, values);

    /// <summary>SCRIPT LOAD on one server: Redis compiles the script, and the multiplexer learns that this server
    /// has it, so calls routed there go as EVALSHA from the first one.</summary>
    public Task<LoadedLuaScript> LoadAsync(IServer server) => _script.LoadAsync(server);
}

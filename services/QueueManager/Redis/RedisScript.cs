using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace WebhookConnect.QueueManager.Redis;

/// <summary>
/// One Lua script, prepared once with <see cref="LuaScript.Prepare"/>. A call goes to Redis as EVALSHA with the
/// script's hash, computed once here; when a server answers NOSCRIPT (restarted, failed over, SCRIPT FLUSH, or the
/// first call on a new Redis Cluster primary) the call is repeated through <c>ScriptEvaluateAsync</c> with the
/// script's text, and StackExchange.Redis loads the script there and runs it (so the retry still runs the script
/// once: NOSCRIPT means Redis did not run it).
/// Why the hash is ours and not the library's: given the text, StackExchange.Redis looks the script up in its
/// per-server cache by that text on every call, hashing the whole script (common.lua and the script, several KiB)
/// each time; in the end-to-end benchmark's profile that lookup was 3 % of queue-manager's CPU (docs/performance.md).
/// <see cref="ScriptPreloader"/> loads every script on every primary ahead of the first call.
/// Keys and arguments are positional (KEYS, ARGV): LuaScript's named parameters cannot carry the variable-length
/// lists the scripts take (a publish batch, a list of ids).
/// </summary>
public sealed class RedisScript
{
    private readonly LuaScript _script;
    private readonly byte[] _hash;

    public RedisScript(string name, string text)
    {
        Name = name;
        _script = LuaScript.Prepare(text);
        _hash = SHA1.HashData(Encoding.UTF8.GetBytes(_script.ExecutableScript));
        Sha1 = Convert.ToHexStringLower(_hash);
    }

    /// <summary>The resource name, for logs.</summary>
    public string Name { get; }

    /// <summary>The hash Redis knows the script by (EVALSHA, SCRIPT EXISTS), lower-case hex.</summary>
    public string Sha1 { get; }

    public async Task<RedisResult> EvaluateAsync(IDatabaseAsync database, RedisKey[] keys, RedisValue[] values)
    {
        try
        {
            return await database.ScriptEvaluateAsync(_hash, keys, values);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await database.ScriptEvaluateAsync(_script.ExecutableScript, keys, values);
        }
    }

    /// <summary>SCRIPT LOAD on one server: Redis compiles the script, and the multiplexer learns that this server
    /// has it, so calls routed there go as EVALSHA from the first one.</summary>
    public Task<LoadedLuaScript> LoadAsync(IServer server) => _script.LoadAsync(server);
}

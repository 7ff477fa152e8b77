using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using WebhookConnect.Contracts.Admin.V1;

namespace WebhookConnect.Admin.Authentication;

/// <summary>The three kinds of admin API token and what each may do (docs/admin.md, "Authentication").</summary>
public enum AdminTokenKind
{
    /// <summary>Every permission: read, read_contents, write.</summary>
    Admin,

    /// <summary>read and read_contents: settings, stats and message bodies and headers; never a change.</summary>
    Contents,

    /// <summary>read only: settings, stats, message metadata; no message contents, no change.</summary>
    ReadOnly,
}

/// <summary>An authenticated caller: its kind and a short hash of its token, safe to log.</summary>
public sealed record AdminCaller(AdminTokenKind Kind, string Id)
{
    public bool Holds(Permission permission) => permission switch
    {
        Permission.Read => true,
        Permission.ReadContents => Kind is AdminTokenKind.Admin or AdminTokenKind.Contents,
        Permission.Write => Kind == AdminTokenKind.Admin,
        _ => false,
    };
}

/// <summary>
/// The configured tokens, as SHA-256 hashes. Inline tokens (<c>Admin:Tokens</c>, …) are fixed; token files are read
/// again at most every <see cref="CheckEvery"/> when a call comes in, so a token added to or removed from a mounted
/// secret takes effect within that time without a restart. A file that cannot be read, or a line shorter than
/// <see cref="AdminOptions.MinimumTokenLength"/>, keeps the previous tokens of that file and is logged (start-up
/// validation refuses both, so this happens only on a change while running).
/// </summary>
public sealed partial class AdminTokens
{
    /// <summary>How often the token files are looked at again (at most; only when a call comes in).</summary>
    public static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(2);

    private readonly ImmutableArray<Token> _inline;
    private readonly (string Path, AdminTokenKind Kind)[] _files;
    private readonly Dictionary<string, (string Text, ImmutableArray<Token> Tokens)> _fromFiles = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ILogger<AdminTokens> _logger;
    private readonly Lock _reload = new();
    private ImmutableArray<Token> _all;
    private long _nextCheck;

    public AdminTokens(IOptions<AdminOptions> options, TimeProvider time, ILogger<AdminTokens> logger)
    {
        _time = time;
        _logger = logger;
        var settings = options.Value;
        _inline =
        [
            .. Hashes(AdminOptions.Split(settings.Tokens), AdminTokenKind.Admin),
            .. Hashes(AdminOptions.Split(settings.ContentsTokens), AdminTokenKind.Contents),
            .. Hashes(AdminOptions.Split(settings.ReadOnlyTokens), AdminTokenKind.ReadOnly),
        ];
        _files = [.. new[]
        {
            (settings.TokenFile, AdminTokenKind.Admin),
            (settings.ContentsTokenFile, AdminTokenKind.Contents),
            (settings.ReadOnlyTokenFile, AdminTokenKind.ReadOnly),
        }.Where(f => f.Item1.Length > 0)];
        Reload();
    }

    /// <summary>The caller whose token is <paramref name="presented"/>, or null.</summary>
    public AdminCaller? Find(string presented)
    {
        ReloadWhenDue();
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        AdminCaller? found = null;
        // Every token is compared, so the time taken does not tell which one (if any) matched.
        foreach (var token in _all)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, token.Hash) && found is null)
            {
                found = token.Caller;
            }
        }

        return found;
    }

    /// <summary>
    /// The caller whose console session key makes <paramref name="signedBy"/> true, or null (docs/console.md,
    /// "Session"). Every token's key is tried, so the time taken does not tell which one matched; a token removed
    /// from the configuration takes its sessions with it.
    /// </summary>
    public AdminCaller? FindBySessionKey(Func<byte[], bool> signedBy)
    {
        ReloadWhenDue();
        AdminCaller? found = null;
        foreach (var token in _all)
        {
            if (signedBy(token.SessionKey) && found is null)
            {
                found = token.Caller;
            }
        }

        return found;
    }

    private void ReloadWhenDue()
    {
        var now = _time.GetTimestamp();
        if (now < Interlocked.Read(ref _nextCheck) || !_reload.TryEnter())
        {
            return;
        }

        try
        {
            Reload();
        }
        finally
        {
            _reload.Exit();
        }
    }

    private void Reload()
    {
        var changed = false;
        foreach (var (path, kind) in _files)
        {
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogUnreadable(_logger, path, ex.Message);
                continue;
            }

            if (_fromFiles.TryGetValue(path, out var current) && current.Text == text)
            {
                continue;
            }

            var lines = AdminOptions.Split(text);
            if (AdminOptions.TooShort(lines) is { } line)
            {
                LogTooShort(_logger, path, line, AdminOptions.MinimumTokenLength);
                continue;
            }

            _fromFiles[path] = (text, [.. Hashes(lines, kind)]);
            changed = true;
            if (current.Text is not null)
            {
                LogReloaded(_logger, path, lines.Length);
            }
        }

        if (changed || _all.IsDefault)
        {
            _all = [.. _inline, .. _fromFiles.Values.SelectMany(f => f.Tokens)];
        }

        Interlocked.Exchange(ref _nextCheck, _time.GetTimestamp() + (long)(CheckEvery.TotalSeconds * _time.TimestampFrequency));
    }

    private static IEnumerable<Token> Hashes(IEnumerable<string> tokens, AdminTokenKind kind) => tokens.Select(token =>
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        var prefix = kind switch { AdminTokenKind.Admin => "rw-", AdminTokenKind.Contents => "rc-", _ => "ro-" };
        return new Token(hash, new AdminCaller(kind, prefix + Convert.ToHexStringLower(hash)[..8]), SessionKey(token));
    });

    /// <summary>The key console sessions signed in with <paramref name="token"/> are signed with: derived from the
    /// token, so every replica with the same configuration derives the same key and no key ring is shared
    /// (docs/console.md, "Session").</summary>
    public static byte[] SessionKey(string token) =>
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), "webhookconnect console session v1"u8);

    private sealed record Token(byte[] Hash, AdminCaller Caller, byte[] SessionKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Admin token file {Path} reloaded: {Count} tokens")]
    private static partial void LogReloaded(ILogger logger, string path, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Admin token file {Path} cannot be read ({Reason}); its previous tokens stay in effect")]
    private static partial void LogUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Admin token file {Path}: token number {Line} is shorter than {Minimum} characters; the file was not reloaded and its previous tokens stay in effect")]
    private static partial void LogTooShort(ILogger logger, string path, int line, int minimum);
}

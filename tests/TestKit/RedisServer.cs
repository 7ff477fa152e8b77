using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace WebhookConnect.TestKit;

/// <summary>
/// A private <c>redis-server</c> on a free 127.0.0.1 port with its own data directory, started by the test that
/// needs it: tests never assume a system Redis, and each starts from an empty one. Without append-only mode it
/// keeps nothing on disk (<c>--save ''</c>); with it, every write is fsynced (<c>appendfsync always</c>) so a
/// SIGKILL loses nothing that was acknowledged, which durability tests rely on. Disposing kills the server and
/// deletes its directory.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    /// <summary>How to get the binary on Debian and Ubuntu.</summary>
    public const string InstallHint = "sudo apt-get install -y redis-server";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _executable;
    private readonly bool _appendOnly;
    private readonly IReadOnlyList<string> _extraArguments;
    private readonly string _dataDirectory;
    private ChildProcess? _process;
    private int _starts;

    private RedisServer(string executable, bool appendOnly, int port, IReadOnlyList<string> extraArguments)
    {
        _executable = executable;
        _appendOnly = appendOnly;
        _extraArguments = extraArguments;
        Port = port;
        _dataDirectory = Directory.CreateTempSubdirectory("wc-redis-").FullName;
    }

    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>, the form StackExchange.Redis and our services take.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>What the server printed, for failure messages.</summary>
    public string Output => _process?.Output ?? "";

    /// <summary>The operating-system id of the running redis-server (for benchmarks that meter its CPU), or null while it is stopped.</summary>
    public int? ProcessId => _process?.Id;

    /// <summary>Starts a server; fails with <see cref="InstallHint"/> when <c>redis-server</c> is missing.</summary>
    public static Task<RedisServer> StartAsync(bool appendOnly = false) => StartAsync(appendOnly, FreePort.Next(), []);

    /// <summary>Starts a server on a chosen port with extra <c>redis-server</c> arguments (e.g. cluster mode).</summary>
    public static async Task<RedisServer> StartAsync(bool appendOnly, int port, IReadOnlyList<string> extraArguments)
    {
        var executable = Prerequisites.RequireExecutable("redis-server", InstallHint);
        var server = new RedisServer(executable, appendOnly, port, extraArguments);
        try
        {
            await server.StartProcessAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the server the hard way, as a crash or <c>kill -9</c> would.</summary>
    public Task KillAsync() => StopProcessAsync(ChildProcess.SigKill);

    /// <summary>Stops the server gracefully (SIGTERM), as an orderly restart would.</summary>
    public Task StopAsync() => StopProcessAsync(ChildProcess.SigTerm);

    /// <summary>Starts the server again on the same port and directory (append-only data is replayed).</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartProcessAsync();
    }

    /// <summary>
    /// Runs one command over a fresh connection and returns the reply: simple and bulk strings as text, integers
    /// in decimal, nil as null, arrays as their elements joined by newlines. An error reply throws.
    /// </summary>
    public async Task<string?> ExecuteAsync(params string[] command)
    {
        ArgumentOutOfRangeException.ThrowIfZero(command.Length);
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await client.ConnectAsync("127.0.0.1", Port, timeout.Token);
        var stream = client.GetStream();
        var request = new StringBuilder().Append('*').Append(command.Length).Append("\r\n");
        foreach (var argument in command)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(argument)).Append("\r\n").Append(argument).Append("\r\n");
        }

        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()), timeout.Token);
        await using var reader = new BufferedStream(stream);
        return await ReadReplyAsync(reader, timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless; the test result is what matters.
        }
    }

    private async Task StopProcessAsync(int signal)
    {
        if (_process is { } process)
        {
            process.Signal(signal);
            await process.WaitForExitAsync(StartTimeout);
            await process.DisposeAsync();
            _process = null;
        }
    }

    private async Task StartProcessAsync()
    {
        _starts++;
        string[] arguments =
        [
            "--port", Port.ToString(CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--dir", _dataDirectory,
            "--save", "",
            "--appendonly", _appendOnly ? "yes" : "no",
            "--appendfsync", "always",
            "--daemonize", "no",
            "--logfile", "",
            .. _extraArguments,
        ];
        _process = ChildProcess.Start($"redis:{Port}#{_starts}", _executable, arguments);
        await _process.UntilAsync(
            async () =>
            {
                try
                {
                    return await ExecuteAsync("PING") == "PONG";
                }
                catch (InvalidOperationException ex) when (ex.Message.StartsWith("NOAUTH", StringComparison.Ordinal))
                {
                    return true; // Up, with a password (--requirepass among the extra arguments).
                }
                catch (Exception ex) when (ex is SocketException or IOException
                    || (ex is InvalidOperationException && ex.Message.StartsWith("LOADING", StringComparison.Ordinal)))
                {
                    return false;
                }
            },
            StartTimeout,
            $"redis-server on port {Port} to answer PING");
    }

    private static async Task<string?> ReadReplyAsync(Stream reader, CancellationToken cancellationToken)
    {
        var line = await ReadLineAsync(reader, cancellationToken);
        var payload = line[1..];
        switch (line[0])
        {
            case '+':
            case ':':
                return payload;
            case '-':
                throw new InvalidOperationException(payload);
            case '$':
                var length = int.Parse(payload, CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return null;
                }

                // Bulk lengths count bytes, so the value is read as bytes, then its CRLF.
                var buffer = new byte[length + 2];
                await reader.ReadExactlyAsync(buffer, cancellationToken);
                return Encoding.UTF8.GetString(buffer, 0, length);
            case '*':
                var count = int.Parse(payload, CultureInfo.InvariantCulture);
                if (count < 0)
                {
                    return null;
                }

                var items = new List<string?>(count);
                for (var i = 0; i < count; i++)
                {
                    items.Add(await ReadReplyAsync(reader, cancellationToken));
                }

                return string.Join('\n', items);
            default:
                throw new IOException($"Unexpected Redis reply: {line}");
        }
    }

    private static async Task<string> ReadLineAsync(Stream reader, CancellationToken cancellationToken)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await reader.ReadAsync(one, cancellationToken) == 0)
            {
                throw new IOException("Redis closed the connection in the middle of a reply.");
            }

            if (one[0] == (byte)'\n' && bytes.Count > 0 && bytes[^1] == (byte)'\r')
            {
                return Encoding.UTF8.GetString(bytes.ToArray(), 0, bytes.Count - 1);
            }

            bytes.Add(one[0]);
        }
    }
}

using System.Text.Json;
using System.Threading.Channels;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace WebhookConnect.Admin.Authentication;

/// <summary>
/// The audit sink: one record per change (with its parameters, secrets redacted), per read of message contents and
/// per refused call, naming the caller by its token id (a hash prefix, never the token), the method, the channel and
/// the result. Records go to the log category <see cref="Category"/> (route it apart with the logging configuration)
/// and, when <c>Admin:AuditFile</c> is set, to that file as JSON lines.
/// </summary>
/// <remarks>
/// The file is written by hand rather than through a logging library's file sink because it must be created
/// owner-only (0600) and must hold exactly these records; a bounded channel and one writer loop keep a slow disk
/// from holding up calls (a full channel drops the file record, never the log record, and says so in the log).
/// </remarks>
public sealed partial class AdminAudit : IHostedService, IAsyncDisposable
{
    public const string Category = "WebhookConnect.Admin.Audit";

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));
    private readonly ILogger _logger;
    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly Channel<string> _records = Channel.CreateBounded<string>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private Task _writer = Task.CompletedTask;

    public AdminAudit(IOptions<AdminOptions> options, ILoggerFactory loggers, TimeProvider time)
    {
        _logger = loggers.CreateLogger(Category);
        _path = options.Value.AuditFile;
        _time = time;
    }

    /// <summary>A call refused before it reached the queue-manager (UNAUTHENTICATED or PERMISSION_DENIED).</summary>
    public void Refused(string caller, string method, string channel, Status refusal) =>
        Write("refused", caller, method, channel, refusal.StatusCode.ToString(), refusal.Detail, null);

    /// <summary>A change (any result), with its parameters.</summary>
    public void Changed(string caller, string method, string channel, StatusCode result, IMessage request) =>
        Write("write", caller, method, channel, result.ToString(), null, Parameters(request));

    /// <summary>A read that returned (or asked for) message contents.</summary>
    public void ReadContents(string caller, string method, string channel, StatusCode result) =>
        Write("read_contents", caller, method, channel, result.ToString(), null, null);

    private void Write(string kind, string caller, string method, string channel, string result, string? detail, string? parameters)
    {
        LogAudit(_logger, kind, caller, method, channel, result, detail ?? "", parameters ?? "");
        if (_path.Length == 0)
        {
            return;
        }

        var line = JsonSerializer.Serialize(new Dictionary<string, string?>
        {
            ["time"] = _time.GetUtcNow().ToString("O"),
            ["kind"] = kind,
            ["caller"] = caller,
            ["method"] = method,
            ["channel"] = channel,
            ["result"] = result,
            ["detail"] = detail,
            ["parameters"] = parameters,
        });
        if (!_records.Writer.TryWrite(line))
        {
            LogDropped(_logger, _path);
        }
    }

    /// <summary>
    /// The request as protobuf JSON with every secret replaced by <c>"(redacted)"</c>: fields marked
    /// <c>debug_redact</c> and fields named <c>token</c>, <c>secret</c>, <c>secrets</c>, <c>password</c> or ending in
    /// <c>_token</c>/<c>_secret</c>/<c>_password</c> (channel tokens, verification secrets, basic passwords).
    /// </summary>
    public static string Parameters(IMessage request)
    {
        var copy = request.Descriptor.Parser.ParseFrom(request.ToByteString());
        Redact(copy);
        return Formatter.Format(copy);
    }

    private static void Redact(IMessage message)
    {
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            var value = field.Accessor.GetValue(message);
            if (IsSecret(field))
            {
                switch (value)
                {
                    case string { Length: > 0 }:
                        field.Accessor.SetValue(message, "(redacted)");
                        break;
                    case ByteString { Length: > 0 }:
                        field.Accessor.SetValue(message, ByteString.CopyFromUtf8("(redacted)"));
                        break;
                    case System.Collections.IList { Count: > 0 } list when field.FieldType == FieldType.String:
                        for (var i = 0; i < list.Count; i++)
                        {
                            list[i] = "(redacted)";
                        }

                        break;
                }
            }
            else if (value is IMessage child)
            {
                Redact(child);
            }
            else if (value is System.Collections.IList items && field.FieldType == FieldType.Message)
            {
                foreach (var item in items.OfType<IMessage>())
                {
                    Redact(item);
                }
            }
        }
    }

    private static bool IsSecret(FieldDescriptor field) =>
        field.GetOptions()?.DebugRedact == true
        || field.Name is "token" or "secret" or "secrets" or "password"
        || field.Name.EndsWith("_token", StringComparison.Ordinal) || field.Name.EndsWith("_secret", StringComparison.Ordinal)
        || field.Name.EndsWith("_password", StringComparison.Ordinal);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_path.Length > 0)
        {
            _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _records.Writer.TryComplete();
        await _writer.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    private async Task WriteLoopAsync()
    {
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await foreach (var line in _records.Reader.ReadAllAsync())
        {
            try
            {
                // Opened per batch, so a log rotation that moves the file away is followed.
                await using var file = new StreamWriter(_path, options);
                await file.WriteLineAsync(line);
                while (_records.Reader.TryRead(out var next))
                {
                    await file.WriteLineAsync(next);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogFileFailed(_logger, _path, ex.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, EventName = "Audit", Message = "audit: {Kind} by {Caller}: {Method} on channel '{Channel}': {Result} {Detail} {Parameters}")]
    private static partial void LogAudit(ILogger logger, string kind, string caller, string method, string channel, string result, string detail, string parameters);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit file {Path}: a record was not written, the writer is behind (it is in the log)")]
    private static partial void LogDropped(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit file {Path} cannot be written: {Reason}")]
    private static partial void LogFileFailed(ILogger logger, string path, string reason);
}

using System.Collections;
using Grpc.Core;
using Grpc.Net.Client;
using AdminClient = WebhookConnect.Contracts.Admin.V1.AdminService.AdminServiceClient;

namespace WebhookConnect.Cli;

/// <summary>
/// Where the admin API is and which token to present: <c>--admin</c> or <c>WEBHOOKCONNECT_ADMIN</c> (default
/// <see cref="DefaultAddress"/>), the token from <c>--token-file</c> or <c>WEBHOOKCONNECT_TOKEN</c>. There is no
/// <c>--token</c> on purpose: a command line is visible to every user of the machine (<c>ps</c>).
/// </summary>
internal sealed class AdminConnection : IDisposable
{
    public const string DefaultAddress = "http://127.0.0.1:5002";
    public const string AddressVariable = "WEBHOOKCONNECT_ADMIN";
    public const string TokenVariable = "WEBHOOKCONNECT_TOKEN";

    private readonly GrpcChannel _channel;

    private AdminConnection(Uri address, string token)
    {
        Address = address;
        Headers = new Metadata { { "authorization", "Bearer " + token } };
        _channel = GrpcChannel.ForAddress(address);
        Client = new AdminClient(_channel);
    }

    public Uri Address { get; }

    public Metadata Headers { get; }

    public AdminClient Client { get; }

    /// <summary>The connection, or a usage error (exit code 2) saying what to set.</summary>
    public static AdminConnection Open(string? addressOption, string? tokenFile, IDictionary environment)
    {
        var text = addressOption ?? environment[AddressVariable] as string;
        text = string.IsNullOrWhiteSpace(text) ? DefaultAddress : text.Trim();
        if (!Uri.TryCreate(text, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--admin = '{text}' is not an http:// or https:// address such as {DefaultAddress}");
        }

        string token;
        if (!string.IsNullOrEmpty(tokenFile))
        {
            try
            {
                token = File.ReadAllText(tokenFile).Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--token-file = '{tokenFile}' cannot be read: {ex.Message}");
            }

            if (token.Length == 0)
            {
                throw new UsageException($"--token-file = '{tokenFile}' is empty; it must hold an admin token");
            }
        }
        else
        {
            token = (environment[TokenVariable] as string ?? "").Trim();
            if (token.Length == 0)
            {
                throw new UsageException($"no admin token: set {TokenVariable} or pass --token-file <path> (a file holding the token)");
            }
        }

        return new AdminConnection(address, token);
    }

    /// <summary>
    /// What to tell the user about a failed call, and the exit code (docs/cli.md): UNAVAILABLE names the address it
    /// tried, UNAUTHENTICATED and PERMISSION_DENIED say which token setting to check.
    /// </summary>
    public (string Message, int ExitCode) Explain(RpcException ex) => ex.StatusCode switch
    {
        StatusCode.Unavailable => ($"cannot reach the admin API at {Address}: {ex.Status.Detail} (is admin running there? set --admin or {AddressVariable})", ExitCodes.Unreachable),
        StatusCode.DeadlineExceeded => ($"the admin API at {Address} did not answer in time: {ex.Status.Detail}", ExitCodes.Unreachable),
        StatusCode.Unauthenticated => ($"the admin API at {Address} refused the token: {ex.Status.Detail} (check --token-file or {TokenVariable})", ExitCodes.NotAllowed),
        StatusCode.PermissionDenied => ($"the admin API at {Address} does not allow this with that token: {ex.Status.Detail}", ExitCodes.NotAllowed),
        StatusCode.NotFound => ($"not found at {Address}: {ex.Status.Detail}", ExitCodes.Failed),
        _ => ($"the admin API at {Address} answered {ex.StatusCode}: {ex.Status.Detail}", ExitCodes.Failed),
    };

    public void Dispose() => _channel.Dispose();
}

/// <summary>A command line that cannot be run as given (exit code 2), with the message to print.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The exit codes, as docs/cli.md lists them.</summary>
internal static class ExitCodes
{
    /// <summary>Done; for <c>tail</c> also: stopped with Ctrl-C (or SIGTERM).</summary>
    public const int Ok = 0;

    /// <summary>The admin API refused or failed the call (NOT_FOUND, FAILED_PRECONDITION, a tail cut off, …).</summary>
    public const int Failed = 1;

    /// <summary>The command line is wrong (unknown option, missing argument, no token).</summary>
    public const int Usage = 2;

    /// <summary>The admin API could not be reached (UNAVAILABLE) or did not answer in time.</summary>
    public const int Unreachable = 3;

    /// <summary>The token was refused (UNAUTHENTICATED) or lacks the permission (PERMISSION_DENIED).</summary>
    public const int NotAllowed = 4;
}

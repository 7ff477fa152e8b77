using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;
using AdminServiceDescriptor = WebhookConnect.Contracts.Admin.V1.AdminService;
using ProtoOptions = WebhookConnect.Contracts.Admin.V1.AdminExtensions;

namespace WebhookConnect.Admin.Tests;

/// <summary>
/// Every AdminService method and every JSON twin path, called without a token, with a read-only token, with a
/// contents token and with an admin token. The methods are classified here, independently of admin.proto's
/// <c>(required_permission)</c>, so that a method added to admin.proto must be classified (and its option checked)
/// before this test passes.
/// </summary>
public sealed class AccessMatrixTests(AdminStack stack) : IClassFixture<AdminStack>
{
    private static readonly string[] ReadMethods =
    [
        "GetChannel", "ListChannels", "ListConnections", "GetChannelStats", "GetOverview", "ListDeadLetters", "PeekMessages",
        "ListMessages", "GetMessage", "TailChannel",
    ];

    /// <summary>Methods that always return message contents (bodies, headers): not for a read-only token.</summary>
    private static readonly string[] ContentsMethods = ["GetDeadLetter"];

    private static readonly string[] WriteMethods =
    [
        "CreateChannel", "UpdateChannel", "ApplyChannel", "DeleteChannel", "AddEndpoint", "UpdateEndpoint", "RemoveEndpoint", "RotateToken",
        "PauseChannel", "ResumeChannel", "DisconnectConnection", "ReplayDeadLetters", "PurgeDeadLetters", "ResendMessage", "ReplayRange",
    ];

    /// <summary>Every path of the twin except /health, with the method it calls.</summary>
    private static readonly (string Verb, string Path, string Method)[] TwinPaths =
    [
        ("GET", "channels", "ListChannels"),
        ("POST", "channels", "CreateChannel"),
        ("GET", "channels/{c}", "GetChannel"),
        ("PATCH", "channels/{c}", "UpdateChannel"),
        ("PUT", "channels/{c}", "ApplyChannel"),
        ("DELETE", "channels/{c}", "DeleteChannel"),
        ("POST", "channels/{c}/endpoints", "AddEndpoint"),
        ("PUT", "channels/{c}/endpoints/e", "UpdateEndpoint"),
        ("DELETE", "channels/{c}/endpoints/e", "RemoveEndpoint"),
        ("POST", "channels/{c}/rotate-token", "RotateToken"),
        ("POST", "channels/{c}/pause", "PauseChannel"),
        ("POST", "channels/{c}/resume", "ResumeChannel"),
        ("GET", "channels/{c}/connections", "ListConnections"),
        ("GET", "connections", "ListConnections"),
        ("DELETE", "channels/{c}/connections/conn_x", "DisconnectConnection"),
        ("GET", "channels/{c}/stats", "GetChannelStats"),
        ("GET", "overview", "GetOverview"),
        ("GET", "channels/{c}/dead-letters", "ListDeadLetters"),
        ("GET", "channels/{c}/dead-letters/m", "GetDeadLetter"),
        ("POST", "channels/{c}/dead-letters/replay", "ReplayDeadLetters"),
        ("DELETE", "channels/{c}/dead-letters", "PurgeDeadLetters"),
        ("DELETE", "channels/{c}/dead-letters/m", "PurgeDeadLetters"),
        ("GET", "channels/{c}/messages", "PeekMessages"),
        ("GET", "channels/{c}/history", "ListMessages"),
        ("GET", "channels/{c}/history/m", "GetMessage"),
        ("POST", "channels/{c}/history/m/resend", "ResendMessage"),
        ("POST", "channels/{c}/history/replay", "ReplayRange"),
        ("GET", "channels/{c}/tail", "TailChannel"),
    ];

    [Fact]
    public void EveryMethodOfTheServiceIsClassifiedAndAdminProtoDeclaresTheSamePermission()
    {
        var methods = AdminServiceDescriptor.Descriptor.Methods.Select(m => m.Name).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(methods, ReadMethods.Concat(ContentsMethods).Concat(WriteMethods).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(methods, TwinPaths.Select(p => p.Method).Distinct().Order(StringComparer.Ordinal).ToArray());
        foreach (var method in AdminServiceDescriptor.Descriptor.Methods)
        {
            var expected = ReadMethods.Contains(method.Name) ? Permission.Read : ContentsMethods.Contains(method.Name) ? Permission.ReadContents : Permission.Write;
            Assert.Equal((method.Name, expected), (method.Name, method.GetOptions().GetExtension(ProtoOptions.RequiredPermission)));
        }
    }

    [Fact]
    public async Task OverGrpcEachTokenKindMayCallExactlyTheMethodsItsPermissionsAllow()
    {
        var channel = $"matrix-{Guid.NewGuid().ToString("N")[..6]}";
        var failures = new List<string>();
        foreach (var method in AdminServiceDescriptor.Descriptor.Methods)
        {
            var none = await CallAsync(method, channel, token: null);
            var readOnly = await CallAsync(method, channel, AdminStack.ReadOnlyToken);
            var contents = await CallAsync(method, channel, AdminStack.ContentsToken);
            var admin = await CallAsync(method, channel, AdminStack.Token);
            var isRead = ReadMethods.Contains(method.Name);
            var isContents = ContentsMethods.Contains(method.Name);

            Expect(failures, method.Name, "no token", none.StatusCode == StatusCode.Unauthenticated, none);
            Expect(failures, method.Name, "read-only token", isRead ? ReachedTheQueue(readOnly) : readOnly.StatusCode == StatusCode.PermissionDenied, readOnly);
            Expect(failures, method.Name, "contents token", isRead || isContents ? ReachedTheQueue(contents) : contents.StatusCode == StatusCode.PermissionDenied, contents);
            Expect(failures, method.Name, "admin token", ReachedTheQueue(admin), admin);
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public async Task OverTheJsonTwinNoTokenIs401AndEachTokenKindGets403OutsideItsPermissions()
    {
        var channel = $"matrix-json-{Guid.NewGuid().ToString("N")[..6]}";
        var failures = new List<string>();
        foreach (var (verb, template, method) in TwinPaths)
        {
            var path = template.Replace("{c}", channel, StringComparison.Ordinal);
            var none = await SendAsync(verb, path, token: null);
            var readOnly = await SendAsync(verb, path, AdminStack.ReadOnlyToken);
            var contents = await SendAsync(verb, path, AdminStack.ContentsToken);
            var admin = await SendAsync(verb, path, AdminStack.Token);
            var isRead = ReadMethods.Contains(method);
            var isContents = ContentsMethods.Contains(method);

            Expect(failures, $"{verb} {template}", "no token", none.Status == HttpStatusCode.Unauthorized, none);
            Expect(failures, $"{verb} {template}", "read-only token", isRead ? ReachedTheQueue(readOnly) : readOnly.Status == HttpStatusCode.Forbidden, readOnly);
            Expect(failures, $"{verb} {template}", "contents token", isRead || isContents ? ReachedTheQueue(contents) : contents.Status == HttpStatusCode.Forbidden, contents);
            Expect(failures, $"{verb} {template}", "admin token", ReachedTheQueue(admin), admin);
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    /// <summary>
    /// An answer that only the queue-manager can give: success, or a status about the channel, the message or the
    /// request (the request here is an almost empty message naming a channel that may not exist).
    /// </summary>
    private static bool ReachedTheQueue(Status status) =>
        status.StatusCode is StatusCode.OK or StatusCode.NotFound or StatusCode.InvalidArgument or StatusCode.FailedPrecondition;

    private static bool ReachedTheQueue((HttpStatusCode Status, string Body) answer) =>
        answer.Status is HttpStatusCode.OK or HttpStatusCode.Created or HttpStatusCode.NotFound or HttpStatusCode.BadRequest or HttpStatusCode.Conflict
        && answer.Body.StartsWith('{');

    private static void Expect<T>(List<string> failures, string what, string caller, bool ok, T got)
    {
        if (!ok)
        {
            failures.Add($"{what} with {caller}: got {got}");
        }
    }

    /// <summary>Calls one method with a request built from its descriptor: empty but for the channel name.</summary>
    private async Task<Status> CallAsync(Google.Protobuf.Reflection.MethodDescriptor descriptor, string channel, string? token)
    {
        var request = descriptor.InputType.Parser.ParseFrom(ByteString.Empty);
        descriptor.InputType.FindFieldByName("channel")?.Accessor.SetValue(request, channel);
        var bytes = Marshallers.Create<byte[]>(b => b, b => b);
        var headers = token is null ? new Metadata() : AdminStack.Bearer(token);
        if (descriptor.IsServerStreaming)
        {
            // TailChannel: its first event (STARTED) or its status is the answer.
            var streaming = new Method<byte[], byte[]>(MethodType.ServerStreaming, AdminServiceDescriptor.Descriptor.FullName, descriptor.Name, bytes, bytes);
            try
            {
                using var stream = stack.Channel.CreateCallInvoker().AsyncServerStreamingCall(streaming, null, new CallOptions(headers, DateTime.UtcNow + QueueManagerProcess.Patience), request.ToByteArray());
                await stream.ResponseStream.MoveNext(CancellationToken.None);
                return Status.DefaultSuccess;
            }
            catch (RpcException error)
            {
                return error.Status;
            }
        }

        var method = new Method<byte[], byte[]>(MethodType.Unary, AdminServiceDescriptor.Descriptor.FullName, descriptor.Name, bytes, bytes);
        try
        {
            using var call = stack.Channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(headers, DateTime.UtcNow + QueueManagerProcess.Patience), request.ToByteArray());
            await call.ResponseAsync;
            return Status.DefaultSuccess;
        }
        catch (RpcException error)
        {
            return error.Status;
        }
    }

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(string verb, string path, string? token)
    {
        using var http = new HttpClient { BaseAddress = new Uri(stack.Http, "/admin/webhook-connect/"), Timeout = QueueManagerProcess.Patience };
        using var request = new HttpRequestMessage(new HttpMethod(verb), new Uri(path, UriKind.Relative));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (verb is "POST" or "PUT" or "PATCH" or "DELETE")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}

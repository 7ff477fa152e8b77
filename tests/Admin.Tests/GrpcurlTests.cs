using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.TestKit;

namespace WebhookConnect.Admin.Tests;

/// <summary>
/// What an operator does with grpcurl, done by tests/interop/grpcurl.mjs (an independent gRPC implementation,
/// @grpc/grpc-js, resolving everything through server reflection as grpcurl does): list, describe, call with a token.
/// </summary>
public sealed class GrpcurlTests(AdminStack stack) : IClassFixture<AdminStack>
{
    [Fact]
    public async Task ListAndDescribeWorkWithoutAToken()
    {
        var (listCode, list) = await GrpcurlAsync([], "list");
        var (describeCode, describe) = await GrpcurlAsync([], "describe", "webhookconnect.admin.v1.AdminService");

        Assert.Equal(0, listCode);
        Assert.Contains("webhookconnect.admin.v1.AdminService", list, StringComparison.Ordinal);
        Assert.Contains("grpc.health.v1.Health", list, StringComparison.Ordinal);
        Assert.Equal(0, describeCode);
        foreach (var method in new[] { "CreateChannel", "GetChannelStats", "RotateToken", "ListDeadLetters", "PeekMessages" })
        {
            Assert.Contains($"rpc {method} (", describe, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task CallsThroughReflectedTypesNeedTheToken()
    {
        var name = $"grpcurl-{Guid.NewGuid().ToString("N")[..6]}";
        var body = "{\"channel\":\"" + name + "\",\"endpoints\":[{\"id\":\"" + name + "\",\"verification\":{\"no_verification\":{}}}],\"settings\":{\"max_in_flight\":25}}";
        var token = $"authorization: Bearer {AdminStack.Token}";

        var (deniedCode, denied) = await GrpcurlAsync(["-d", body], "webhookconnect.admin.v1.AdminService/CreateChannel");
        var (createdCode, created) = await GrpcurlAsync(["-H", token, "-d", body], "webhookconnect.admin.v1.AdminService/CreateChannel");
        var (statsCode, stats) = await GrpcurlAsync(["-H", token, "-d", "{\"channel\":\"" + name + "\"}"], "webhookconnect.admin.v1.AdminService/GetChannelStats");
        var (healthCode, health) = await GrpcurlAsync([], "grpc.health.v1.Health/Check");

        Assert.Equal(1, deniedCode);
        Assert.Contains("Code: Unauthenticated", denied, StringComparison.Ordinal);
        Assert.Equal(0, createdCode);
        Assert.Contains("\"token\": \"wct_", created, StringComparison.Ordinal);
        Assert.Contains("\"max_in_flight\": 25", created, StringComparison.Ordinal);
        Assert.Equal(0, statsCode);
        Assert.Contains("\"messages_queued\": 0", stats, StringComparison.Ordinal);
        Assert.Equal(0, healthCode);
        Assert.Contains("\"status\": \"SERVING\"", health, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryMethodCanBeCalledThroughReflectedTypes()
    {
        var name = $"grpcurl-all-{Guid.NewGuid().ToString("N")[..6]}";
        var channel = "\"channel\":\"" + name + "\"";
        var calls = new (string Method, string Json, string Expected)[]
        {
            ("CreateChannel", "{" + channel + ",\"endpoints\":[{\"id\":\"" + name + "\",\"verification\":{\"no_verification\":{}}}]}", "\"token\": \"wct_"),
            ("GetChannel", "{" + channel + "}", "\"name\": \"" + name + "\""),
            ("ListChannels", "{\"page_size\":1000}", "\"name\": \"" + name + "\""),
            ("UpdateChannel", "{" + channel + ",\"settings\":{\"max_in_flight\":33}}", "\"max_in_flight\": 33"),
            ("ApplyChannel", "{" + channel + ",\"settings\":{\"max_connections\":3}}", "\"created\": false"),
            ("AddEndpoint", "{" + channel + ",\"endpoint\":{\"id\":\"" + name + "-b\",\"verification\":{\"no_verification\":{}}}}", "\"id\": \"" + name + "-b\""),
            ("UpdateEndpoint", "{" + channel + ",\"endpoint\":{\"id\":\"" + name + "-b\",\"idempotency_header\":\"X-Delivery\",\"verification\":{\"no_verification\":{}}}}", "\"idempotency_header\": \"X-Delivery\""),
            ("RemoveEndpoint", "{" + channel + ",\"endpoint_id\":\"" + name + "-b\"}", "\"name\": \"" + name + "\""),
            ("PauseChannel", "{" + channel + "}", "\"paused\": true"),
            ("ResumeChannel", "{" + channel + "}", "\"paused\": false"),
            ("RotateToken", "{" + channel + ",\"grace_period_seconds\":60}", "\"rotated\": true"),
            ("ListConnections", "{" + channel + "}", "\"connections\": []"),
            ("DisconnectConnection", "{" + channel + ",\"connection_id\":\"conn_x\"}", "Code: NotFound"),
            ("GetChannelStats", "{" + channel + "}", "\"messages_queued\": 0"),
            ("GetOverview", "{\"include_channels\":true}", "\"channel\": \"" + name + "\""),
            ("ListDeadLetters", "{" + channel + "}", "\"total\": 0"),
            ("GetDeadLetter", "{" + channel + ",\"message_id\":\"m\"}", "Code: NotFound"),
            ("ReplayDeadLetters", "{" + channel + ",\"message_ids\":[\"m\"]}", "\"replayed\": 0"),
            ("PurgeDeadLetters", "{" + channel + ",\"all\":true}", "\"purged\": 0"),
            ("PeekMessages", "{" + channel + ",\"include_body\":true}", "\"messages\": []"),
            // The stand-in's verify takes enum numbers only (3: MESSAGE_STATE_ACKED); grpcurl takes either.
            ("ListMessages", "{" + channel + ",\"states\":[3],\"include_body\":true}", "\"messages\": []"),
            ("GetMessage", "{" + channel + ",\"message_id\":\"m\"}", "Code: NotFound"),
            ("ResendMessage", "{" + channel + ",\"message_id\":\"m\"}", "Code: NotFound"),
            // grpcurl takes "2026-01-01T00:00:00Z"; the protobufjs stand-in takes a Timestamp as its fields.
            ("ReplayRange", "{" + channel + ",\"received_after\":{\"seconds\":1767225600},\"received_before\":{\"seconds\":1767312000}}", "\"resent\": 0"),
            // A server stream: on a channel that does not exist it ends at once with its status.
            ("TailChannel", "{\"channel\":\"no-such-" + name + "\"}", "Code: NotFound"),
            ("DeleteChannel", "{" + channel + "}", "{"),
        };
        var token = $"authorization: Bearer {AdminStack.Token}";

        var failures = new List<string>();
        foreach (var (method, json, expected) in calls)
        {
            var (_, output) = await GrpcurlAsync(["-H", token, "-d", json], "webhookconnect.admin.v1.AdminService/" + method);
            if (!output.Contains(expected, StringComparison.Ordinal))
            {
                failures.Add($"{method}: expected '{expected}' in:\n{output}");
            }
        }

        var (goneCode, gone) = await GrpcurlAsync(["-H", token, "-d", "{" + channel + "}"], "webhookconnect.admin.v1.AdminService/GetChannel");

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.Equal(
            AdminService.Descriptor.Methods.Select(m => m.Name).Order(StringComparer.Ordinal),
            calls.Select(c => c.Method).Order(StringComparer.Ordinal));
        Assert.Equal(1, goneCode);
        Assert.Contains("Code: NotFound", gone, StringComparison.Ordinal);
    }

    /// <summary>Runs <c>node grpcurl.mjs [flags] host:port [verb and symbol]</c> against the admin service.</summary>
    private async Task<(int ExitCode, string Output)> GrpcurlAsync(string[] flags, params string[] command)
    {
        Prerequisites.RequireNodeInteropPackages();
        var arguments = new List<string> { Path.Combine(RepoPaths.Interop, "grpcurl.mjs") };
        arguments.AddRange(flags);
        arguments.Add(stack.Channel.Target);
        arguments.AddRange(command);
        await using var process = ChildProcess.Start("grpcurl", "node", arguments, workingDirectory: RepoPaths.Interop);
        var exitCode = await process.WaitForExitAsync(QueueManagerProcess.Patience);
        return (exitCode, process.Output);
    }
}

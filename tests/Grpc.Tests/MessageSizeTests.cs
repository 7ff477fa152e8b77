using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests;

/// <summary>
/// Our 16 MiB limit (a 10 MiB webhook body plus headers and envelope) on both sides and in both directions. Each
/// boundary is exact: a message of exactly 16 MiB passes, one byte more is RESOURCE_EXHAUSTED with a message
/// that says why, and the connection keeps serving.
/// </summary>
public sealed class MessageSizeTests
{
    /// <summary>SPEC §12; written out so that a change of the setting has to change this test too.</summary>
    private const int Limit = 16 * 1024 * 1024;
    private const int BeyondAnyLimit = 64 * 1024 * 1024;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task ServerAcceptsARequestOfExactly16MiBAndRefusesOneByteMore()
    {
        await using var server = await GrpcTestServer.StartAsync();
        // A foreign client without a send limit of its own, so that the server's limit is what decides.
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { MaxSendMessageSize = BeyondAnyLimit });
        var client = new EchoService.EchoServiceClient(channel);

        var accepted = await CollectOneAsync(client, RequestOfSize(Limit));
        var error = await Assert.ThrowsAsync<RpcException>(() => CollectOneAsync(client, RequestOfSize(Limit + 1)));
        var after = await client.EchoAsync(new EchoRequest { Text = "next" }).ResponseAsync.WaitAsync(Patience);

        Assert.Equal(RequestOfSize(Limit).Payload.Length, accepted.TotalPayloadBytes);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("exceeds the maximum configured message size", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("next", after.Text);
    }

    [Fact]
    public async Task ServerSendsAResponseOfExactly16MiBAndRefusesOneByteMore()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { MaxReceiveMessageSize = BeyondAnyLimit });
        var client = new EchoService.EchoServiceClient(channel);

        var sent = await client.EchoAsync(BareResponseOfSize(Limit)).ResponseAsync.WaitAsync(Patience);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(BareResponseOfSize(Limit + 1)).ResponseAsync.WaitAsync(Patience));

        Assert.Equal(Limit, sent.CalculateSize());
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("exceeds the maximum configured message size", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OurChannelRefusesToSendMoreThan16MiBWithoutReachingTheHandler()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var channel = server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var echoed = await client.EchoAsync(new EchoRequest { Payload = ByteString.CopyFrom(new byte[10 * 1024 * 1024]) }).ResponseAsync.WaitAsync(Patience);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(RequestOfSize(Limit + 1)).ResponseAsync.WaitAsync(Patience));

        Assert.Equal(10 * 1024 * 1024, echoed.Payload.Length);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("exceeds the maximum configured message size", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, server.Echo.EchoCalls);
    }

    [Fact]
    public async Task OurChannelReceivesExactly16MiBAndRefusesOneByteMore()
    {
        // A server that would send anything, so that our channel's limit is what decides.
        await using var server = await GrpcTestServer.StartAsync(builder =>
            builder.Services.Configure<GrpcServiceOptions>(o => o.MaxSendMessageSize = BeyondAnyLimit));
        using var channel = server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        var received = await client.EchoAsync(BareResponseOfSize(Limit)).ResponseAsync.WaitAsync(Patience);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(BareResponseOfSize(Limit + 1)).ResponseAsync.WaitAsync(Patience));
        var after = await client.EchoAsync(new EchoRequest { Text = "next" }).ResponseAsync.WaitAsync(Patience);

        Assert.Equal(Limit, received.CalculateSize());
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("exceeds the maximum configured message size", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("next", after.Text);
    }

    /// <summary>A request whose serialized size is exactly <paramref name="size"/> bytes: tag, 4-byte length, payload.</summary>
    private static EchoRequest RequestOfSize(int size)
    {
        var request = new EchoRequest { Payload = ByteString.CopyFrom(new byte[size - 5]) };
        Assert.Equal(size, request.CalculateSize());
        return request;
    }

    /// <summary>Asks for a response that carries only a payload, <paramref name="size"/> bytes serialized.</summary>
    private static EchoRequest BareResponseOfSize(int size) => new() { Text = "bare", ResponsePayloadBytes = size - 5 };

    private static async Task<CollectResponse> CollectOneAsync(EchoService.EchoServiceClient client, EchoRequest request)
    {
        using var call = client.Collect();
        try
        {
            await call.RequestStream.WriteAsync(request).WaitAsync(Patience);
            await call.RequestStream.CompleteAsync().WaitAsync(Patience);
        }
        catch (RpcException)
        {
            // The server may end the call while the message is still being written; its status is in the response.
        }
        catch (InvalidOperationException)
        {
            // Same race, reported by the request stream as "the call is complete"; the response has the status.
        }

        return await call.ResponseAsync.WaitAsync(Patience);
    }
}

using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using WebhookConnect.Grpc.Server;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests;

/// <summary>Races and misbehaving peers: the call must still end with the status that explains it.</summary>
public sealed class RobustnessTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static readonly Method<EchoRequest, EchoResponse> NoMessageMethod = new(
        MethodType.Unary, "test.Broken", "NoMessage",
        Marshallers.Create<EchoRequest>((m, c) => c.Complete(m.ToByteArray()), c => EchoRequest.Parser.ParseFrom(c.PayloadAsNewBuffer())),
        Marshallers.Create<EchoResponse>((m, c) => c.Complete(m.ToByteArray()), c => EchoResponse.Parser.ParseFrom(c.PayloadAsNewBuffer())));

    private static readonly Method<EchoRequest, EchoResponse> BadTrailerMethod = new(
        MethodType.Unary, "test.Broken", "BadTrailer", NoMessageMethod.RequestMarshaller, NoMessageMethod.ResponseMarshaller);

    private static readonly Method<EchoRequest, EchoResponse> ThrowingSerializerMethod = new(
        MethodType.Unary, "test.Broken", "ThrowingSerializer", NoMessageMethod.RequestMarshaller,
        Marshallers.Create<EchoResponse>(
            (_, context) =>
            {
                // Announces 100 bytes, writes 10, then fails: a frame header is already in the response.
                context.SetPayloadLength(100);
                var writer = context.GetBufferWriter();
                writer.GetSpan(10)[..10].Clear();
                writer.Advance(10);
                throw new InvalidOperationException("serializer broke mid-message");
            },
            c => EchoResponse.Parser.ParseFrom(c.PayloadAsNewBuffer())));

    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync(map: app =>
    {
        // Hand-written responses that no correct server sends.
        app.MapPost("/test.Broken/NoMessage", (HttpContext http) =>
        {
            http.Response.ContentType = "application/grpc";
            http.Response.Headers["grpc-status"] = "0";
            return Task.CompletedTask;
        });
        app.MapPost("/test.Broken/BadTrailer", async (HttpContext http) =>
        {
            http.Response.ContentType = "application/grpc";
            await http.Response.Body.WriteAsync(RawGrpc.Frame(new EchoResponse { Text = "fine" }));
            http.Response.AppendTrailer("x-broken-bin", "!!!not base64!!!");
            http.Response.AppendTrailer("x-good", "kept");
            http.Response.AppendTrailer("grpc-status", "0");
        });
        app.MapGrpcService(ServerServiceDefinition.CreateBuilder()
            .AddMethod(ThrowingSerializerMethod, (UnaryServerMethod<EchoRequest, EchoResponse>)((request, context) => Task.FromResult(new EchoResponse())))
            .Build());
    });

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ServerRejectionWhileTheClientIsStillWritingReachesTheWriterAsTheServersStatus()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        // The server fails on the third message while the client keeps writing; the writes race the trailers.
        for (var run = 0; run < 50; run++)
        {
            using var call = client.Collect();
            var error = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                for (var i = 1; i <= 200; i++)
                {
                    await call.RequestStream.WriteAsync(new EchoRequest { Text = $"{i}", FailWithCode = i == 3 ? 3 : 0, FailMessage = "third is bad" });
                }

                await call.RequestStream.CompleteAsync();
                await call.ResponseAsync;
            }).WaitAsync(Patience);

            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Equal("third is bad", error.Status.Detail);
            var final = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync).WaitAsync(Patience);
            Assert.Equal(StatusCode.InvalidArgument, final.StatusCode);
        }
    }

    [Fact]
    public void FinishedCallsAreNotKeptAliveByALongLivedCancellationToken()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        using var lifetime = new CancellationTokenSource();

        var weak = CallWithoutDisposing(client, lifetime.Token);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.False(weak.IsAlive, "the finished call is still referenced (by its token registration)");
    }

    [Fact]
    public async Task UnaryResponseWithOkButNoMessageIsInternal()
    {
        using var channel = _server.CreateChannel();
        var invoker = channel.CreateCallInvoker();

        using var call = invoker.AsyncUnaryCall(NoMessageMethod, null, default, new EchoRequest());
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync).WaitAsync(Patience);

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Equal(StatusCode.Internal, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task MalformedTrailerMetadataIsSkippedWithoutFailingTheCall()
    {
        using var channel = _server.CreateChannel();
        var invoker = channel.CreateCallInvoker();

        using var call = invoker.AsyncUnaryCall(BadTrailerMethod, null, default, new EchoRequest());
        var response = await call.ResponseAsync.WaitAsync(Patience);

        Assert.Equal("fine", response.Text);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal("kept", call.GetTrailers().GetValue("x-good"));
        Assert.Null(call.GetTrailers().Get("x-broken-bin"));
    }

    [Fact]
    public async Task SerializerFailingMidFrameResetsTheStreamInsteadOfSendingCorruptFraming()
    {
        using var channel = _server.CreateChannel();
        var invoker = channel.CreateCallInvoker();

        using var call = invoker.AsyncUnaryCall(ThrowingSerializerMethod, null, default, new EchoRequest());
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync).WaitAsync(Patience);

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.DoesNotContain("Incomplete message", error.Status.Detail, StringComparison.Ordinal);
        var after = await new EchoService.EchoServiceClient(channel).EchoAsync(new EchoRequest { Text = "still serving" }).ResponseAsync.WaitAsync(Patience);
        Assert.Equal("still serving", after.Text);
    }

    [Fact]
    public async Task DeadlineDuringBackPressureStillEndsWithDeadlineExceeded()
    {
        // The client does not read while the server streams 64 KiB messages, so the server's writes wait on
        // HTTP/2 flow control when its deadline passes. The stream must end with DEADLINE_EXCEEDED, not a reset.
        using var http = RawGrpc.CreateClient();
        using var request = RawGrpc.Request(_server.Address, "/webhookconnect.testing.v1.EchoService/Repeat", RawGrpc.Frame(new RepeatRequest { Text = "bp", Count = 1000, PayloadBytes = 64 * 1024 }));
        request.Headers.TryAddWithoutValidation("grpc-timeout", "500m");

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Patience);
        await using var body = await response.Content.ReadAsStreamAsync();
        await Task.Delay(TimeSpan.FromMilliseconds(1500));
        await body.CopyToAsync(Stream.Null).WaitAsync(Patience);

        Assert.Equal("4", RawGrpc.StatusOf(response));
    }

    /// <summary>Runs a call to completion and returns a weak reference to its internal state, nothing else.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference CallWithoutDisposing(EchoService.EchoServiceClient client, CancellationToken token)
    {
        var call = client.EchoAsync(new EchoRequest { Text = "leak?" }, cancellationToken: token);
        Assert.Equal("leak?", call.ResponseAsync.WaitAsync(Patience).GetAwaiter().GetResult().Text);
        return new WeakReference(call.State);
    }
}

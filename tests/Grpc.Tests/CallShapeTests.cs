using Google.Protobuf;
using Grpc.Core;
using WebhookConnect.Grpc.Tests.Support;
using WebhookConnect.Testing.V1;

namespace WebhookConnect.Grpc.Tests;

public sealed class CallShapeTests : IAsyncLifetime
{
    private GrpcTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await GrpcTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task UnaryCallEchoesTextPayloadAndMetadata()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        var headers = new Metadata { { "x-custom", "abc" }, { "x-data-bin", new byte[] { 0, 1, 2, 255 } } };

        var response = await client.EchoAsync(new EchoRequest { Text = "héllo ✓", Payload = ByteString.CopyFrom(1, 2, 3) }, headers);

        Assert.Equal("héllo ✓", response.Text);
        Assert.Equal(new byte[] { 1, 2, 3 }, response.Payload.ToByteArray());
        Assert.Equal(2, response.RequestMetadata.Count);
        Assert.Equal("abc", response.RequestMetadata["x-custom"]);
        Assert.Equal("AAEC/w==", response.RequestMetadata["x-data-bin"]);
        Assert.Equal(-1, response.DeadlineRemainingMs);
    }

    [Fact]
    public async Task UnaryCallExposesResponseHeadersAndTrailers()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        using var call = client.EchoAsync(new EchoRequest { Text = "headers" });
        var headers = await call.ResponseHeadersAsync;
        var response = await call;

        Assert.Equal("headers", response.Text);
        Assert.Equal("dotnet", headers.GetValue("x-echo-server"));
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, headers.GetValueBytes("x-raw-bin"));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal("done", call.GetTrailers().GetValue("x-echo-trailer"));
    }

    [Fact]
    public async Task ClientStreamingCallReceivesEveryRequest()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        using var call = client.Collect();
        foreach (var text in new[] { "a", "b", "c", "d", "e" })
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Text = text, Payload = ByteString.CopyFrom(new byte[10]) });
        }

        await call.RequestStream.CompleteAsync();
        var response = await call;

        Assert.Equal(5, response.Count);
        Assert.Equal(50, response.TotalPayloadBytes);
        Assert.Equal(["a", "b", "c", "d", "e"], response.Texts);
    }

    [Fact]
    public async Task ServerStreamingCallDeliversEveryResponseInOrder()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        using var call = client.Repeat(new RepeatRequest { Text = "r", Count = 5, PayloadBytes = 7 });
        var received = new List<EchoResponse>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            received.Add(response);
        }

        Assert.Equal(["r-1", "r-2", "r-3", "r-4", "r-5"], received.Select(r => r.Text));
        Assert.Equal([1, 2, 3, 4, 5], received.Select(r => r.Sequence));
        Assert.All(received, r => Assert.Equal(EchoServiceImpl.Pattern(7), r.Payload.ToByteArray()));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task BidirectionalCallInterleavesRequestsAndResponses()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        using var call = client.Chat();
        for (var i = 1; i <= 10; i++)
        {
            // Ping-pong: each response must arrive before the next request is written.
            await call.RequestStream.WriteAsync(new EchoRequest { Text = $"m{i}" });
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal($"m{i}", call.ResponseStream.Current.Text);
            Assert.Equal(i, call.ResponseStream.Current.Sequence);
        }

        for (var i = 11; i <= 100; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Text = $"m{i}" });
        }

        await call.RequestStream.CompleteAsync();
        var rest = new List<EchoResponse>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            rest.Add(response);
        }

        Assert.Equal(Enumerable.Range(11, 90).Select(i => $"m{i}"), rest.Select(r => r.Text));
        Assert.Equal(Enumerable.Range(11, 90), rest.Select(r => r.Sequence));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task BufferedWritesGoOutWithTheNextFlushingWriteOnBothSides()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);

        using var chat = client.Chat();
        chat.RequestStream.WriteOptions = new WriteOptions(WriteFlags.BufferHint);
        await chat.RequestStream.WriteAsync(new EchoRequest { Text = "b1" });
        await chat.RequestStream.WriteAsync(new EchoRequest { Text = "b2" });
        chat.RequestStream.WriteOptions = null;
        await chat.RequestStream.WriteAsync(new EchoRequest { Text = "flush" });
        var answers = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await chat.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
            answers.Add(chat.ResponseStream.Current.Text);
        }

        using var repeat = client.Repeat(new RepeatRequest { Text = "buffered", Count = 5, IntervalMs = 10 });
        var repeated = await repeat.ResponseStream.ReadAllAsync().Select(r => r.Text).ToListAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["b1", "b2", "flush"], answers);
        Assert.Equal(["buffered-1", "buffered-2", "buffered-3", "buffered-4", "buffered-5"], repeated);
    }

    [Fact]
    public async Task WithHostSetsTheAuthorityOfEveryCall()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel).WithHost("relay.example.test");

        var response = await client.EchoAsync(new EchoRequest { Text = "host" });

        Assert.Equal("relay.example.test", response.Text);
    }

    [Fact]
    public async Task ConcurrentWritesOnOneRequestStreamAreRefused()
    {
        using var channel = _server.CreateChannel();
        var client = new EchoService.EchoServiceClient(channel);
        using var call = client.Collect();

        // The first write waits for the HTTP/2 request stream; a second write meanwhile breaks the single-writer rule.
        var big = new EchoRequest { Payload = ByteString.CopyFrom(new byte[4 * 1024 * 1024]) };
        var first = call.RequestStream.WriteAsync(big);
        var second = call.RequestStream.WriteAsync(new EchoRequest { Text = "x" });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => second);
        Assert.Contains("previous write is in progress", error.Message, StringComparison.Ordinal);
        await first;
        await call.RequestStream.CompleteAsync();
        Assert.Equal(1, (await call).Count);
    }
}

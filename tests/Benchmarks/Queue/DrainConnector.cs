using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using Grpc.Net.Client;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Benchmarks.Queue;

/// <param name="Unique">Distinct message ids delivered.</param>
/// <param name="Duplicates">Deliveries of an id already seen.</param>
/// <param name="Redelivered">Deliveries with attempt &gt; 1.</param>
/// <param name="AckFrames">Ack frames sent (Unique / AckFrames is the mean batch).</param>
/// <param name="FirstDeliveryTimestamp">Stopwatch timestamp of the first delivery.</param>
/// <param name="LastAckTimestamp">Stopwatch timestamp when the last ack frame was written.</param>
public readonly record struct DrainResult(
    int Unique,
    int Duplicates,
    int Redelivered,
    int AckFrames,
    uint GrantedMaxInFlight,
    long FirstDeliveryTimestamp,
    long LastAckTimestamp);

/// <summary>
/// A connector without a target: one Connect stream that acks every delivery as it arrives. The reader hands ids to
/// a single writer loop, which sends whatever has accumulated as one Ack frame, so batches grow with the load.
/// </summary>
public static class DrainConnector
{
    public static async Task<DrainResult> RunAsync(GrpcChannel grpc, string channel, string token, uint maxInFlight, int expected, CancellationToken cancellationToken)
    {
        var headers = new Metadata { { "authorization", "Bearer " + token } };
        using var call = new ConnectService.ConnectServiceClient(grpc).Connect(headers, cancellationToken: cancellationToken);
        using var writeLock = new SemaphoreSlim(1, 1);
        var toAck = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var seen = new HashSet<string>(expected, StringComparer.Ordinal);
        int duplicates = 0, redelivered = 0, ackFrames = 0;
        uint granted = 0;
        long first = 0, lastAck = 0;

        async Task SendAsync(ConnectRequest request)
        {
            await writeLock.WaitAsync(cancellationToken);
            try
            {
                await call.RequestStream.WriteAsync(request);
            }
            finally
            {
                writeLock.Release();
            }
        }

        await SendAsync(new ConnectRequest { Subscribe = new Subscribe { Channel = channel, ConnectorId = "bench", MaxInFlight = maxInFlight } });

        var acker = Task.Run(
            async () =>
            {
                var reader = toAck.Reader;
                while (await reader.WaitToReadAsync(cancellationToken))
                {
                    var ack = new Ack();
                    while (ack.MessageIds.Count < 10_000 && reader.TryRead(out var id))
                    {
                        ack.MessageIds.Add(id);
                    }

                    await SendAsync(new ConnectRequest { Ack = ack });
                    ackFrames++;
                    lastAck = Stopwatch.GetTimestamp();
                }
            },
            cancellationToken);

        try
        {
            while (seen.Count < expected && await call.ResponseStream.MoveNext(cancellationToken))
            {
                var response = call.ResponseStream.Current;
                switch (response.FrameCase)
                {
                    case ConnectResponse.FrameOneofCase.Subscribed:
                        granted = response.Subscribed.MaxInFlight;
                        break;
                    case ConnectResponse.FrameOneofCase.Delivery:
                        var message = response.Delivery.Message;
                        if (first == 0)
                        {
                            first = Stopwatch.GetTimestamp();
                        }

                        if (!seen.Add(message.MessageId))
                        {
                            duplicates++;
                        }

                        if (message.Attempt > 1)
                        {
                            redelivered++;
                        }

                        toAck.Writer.TryWrite(message.MessageId);
                        break;
                    case ConnectResponse.FrameOneofCase.Ping:
                        await SendAsync(new ConnectRequest { Pong = new Pong { Nonce = response.Ping.Nonce } });
                        break;
                    case ConnectResponse.FrameOneofCase.Draining:
                        throw new InvalidOperationException("the queue-manager is draining: " + response.Draining.Reason);
                }
            }
        }
        finally
        {
            toAck.Writer.TryComplete();
        }

        await acker;
        if (seen.Count < expected)
        {
            throw new InvalidOperationException($"the stream ended after {seen.Count} of {expected} messages");
        }

        // A clean end: half-close, then read until the server completes the call. Disposing the call earlier would
        // reset the stream, and Kestrel drops request frames the server has not read yet: the last acks would be
        // lost and their messages released for redelivery.
        await writeLock.WaitAsync(cancellationToken);
        await call.RequestStream.CompleteAsync();
        writeLock.Release();
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ending.CancelAfter(TimeSpan.FromSeconds(30));
        while (await call.ResponseStream.MoveNext(ending.Token))
        {
            if (call.ResponseStream.Current.FrameCase == ConnectResponse.FrameOneofCase.Delivery)
            {
                duplicates++;
            }
        }

        return new DrainResult(seen.Count, duplicates, redelivered, ackFrames, granted, first, lastAck);
    }
}

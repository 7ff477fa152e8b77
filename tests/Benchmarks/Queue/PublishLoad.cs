using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using WebhookConnect.Contracts.V1;

namespace WebhookConnect.Benchmarks.Queue;

/// <param name="Rate">Messages per second over the whole run.</param>
/// <param name="P50">Median Publish call latency.</param>
/// <param name="P99">99th percentile Publish call latency.</param>
public readonly record struct PublishResult(int Count, TimeSpan Elapsed, double Rate, TimeSpan P50, TimeSpan P99);

/// <summary>Publishes messages as ingress does: unary Publish calls, a fixed number in flight.</summary>
public static class PublishLoad
{
    private static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(30);

    /// <summary>A message as ingress builds it: a few headers and a body of <paramref name="body"/>.</summary>
    public static Message NewMessage(string channel, string id, ByteString body)
    {
        var message = new Message
        {
            MessageId = id,
            Channel = channel,
            EndpointId = "bench",
            ReceivedAt = Timestamp.FromDateTime(DateTime.UtcNow),
            Body = body,
            ContentType = "application/json",
        };
        message.Headers.Add(new Header { Name = "Content-Type", Value = ByteString.CopyFromUtf8("application/json") });
        message.Headers.Add(new Header { Name = "User-Agent", Value = ByteString.CopyFromUtf8("webhook-connect-bench/1") });
        return message;
    }

    /// <summary>Publishes <paramref name="count"/> messages with ids <c>{prefix}-00000000</c>…; every call must
    /// answer QUEUED, anything else stops the run. <paramref name="progress"/> is called about every tenth.</summary>
    public static async Task<PublishResult> RunAsync(
        GrpcChannel grpc,
        string channel,
        string prefix,
        int count,
        int bodyBytes,
        int concurrency,
        Action<int, TimeSpan>? progress,
        CancellationToken cancellationToken)
    {
        var client = new PublishService.PublishServiceClient(grpc);
        var body = ByteString.CopyFrom(Body(bodyBytes));
        var latencies = new long[count];
        var next = -1;
        var done = 0;
        var progressEvery = Math.Max(1, count / 10);
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(
            async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count && !cancellationToken.IsCancellationRequested)
                {
                    var request = new PublishRequest
                    {
                        Message = NewMessage(channel, prefix + "-" + i.ToString("D8", CultureInfo.InvariantCulture), body),
                    };
                    var started = Stopwatch.GetTimestamp();
                    var response = await client.PublishAsync(request, deadline: DateTime.UtcNow + CallDeadline, cancellationToken: cancellationToken);
                    latencies[i] = Stopwatch.GetTimestamp() - started;
                    if (response.Outcome != PublishOutcome.Queued)
                    {
                        throw new InvalidOperationException($"Publish of {request.Message.MessageId} answered {response.Outcome}, expected QUEUED");
                    }

                    var total = Interlocked.Increment(ref done);
                    if (progress is not null && total % progressEvery == 0)
                    {
                        progress(total, stopwatch.Elapsed);
                    }
                }
            },
            cancellationToken)));
        stopwatch.Stop();
        cancellationToken.ThrowIfCancellationRequested();

        Array.Sort(latencies);
        return new PublishResult(
            count,
            stopwatch.Elapsed,
            count / stopwatch.Elapsed.TotalSeconds,
            Stopwatch.GetElapsedTime(0, latencies[count / 2]),
            Stopwatch.GetElapsedTime(0, latencies[Math.Min(count - 1, (int)(count * 0.99))]));
    }

    /// <summary>A JSON-looking body of exactly <paramref name="bytes"/> bytes.</summary>
    public static byte[] Body(int bytes)
    {
        var body = new byte[bytes];
        Array.Fill(body, (byte)'x');
        "{\"event\":\"bench\",\"data\":\""u8.CopyTo(body);
        "\"}"u8.CopyTo(body.AsSpan(bytes - 2));
        return body;
    }
}

using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using WebhookConnect.Contracts.Admin.V1;
using WebhookConnect.Contracts.V1;
using WebhookConnect.Ingress.Tests.Support;
using WebhookConnect.TestKit;

namespace WebhookConnect.Ingress.Tests;

/// <summary>
/// Issue 20, finding 3: senders that declare large bodies and send them slowly, or that hold bodies back, or that
/// send nothing at all. Ingress holds memory only for bytes that arrived, keeps the body bytes of all requests under
/// <c>Ingress:MaxBodyBytesInFlight</c> (503 + Retry-After above it), cuts bodies off at <c>Ingress:BodyTimeout</c>
/// (408) and silent connections at <c>Ingress:RequestHeadersTimeout</c>, and a genuine webhook goes through
/// meanwhile. Real processes, raw sockets on loopback.
/// </summary>
public sealed class SlowSenderTests(ITestOutputHelper output)
{
    private const string InFlight = "webhookconnect_ingress_body_in_flight_bytes";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task TwoHundredSlowBodiesDeclaringTenMebibytesEachHoldLittleMemoryAreCutOffAt408AndAGenuineWebhookGoesThroughByteForByte()
    {
        const int Http1Senders = 150;
        const int Http2Senders = 50;
        const long Declared = 10L * 1024 * 1024;
        await using var stack = new IngressStack
        {
            IngressSettings = new Dictionary<string, string> { ["Ingress:BodyTimeout"] = "00:00:10" },
            // What a 512 MiB container limit does to .NET: the GC heap may commit 75 % of it. The old code reserved
            // every declared body here and threw OutOfMemoryException after about 38 of them.
            IngressEnvironment = new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x18000000" },
        };
        await stack.InitializeAsync();
        var channel = await stack.NewChannelAsync("slow", new ChannelSettings { MaxMessageBytes = (uint)Declared });
        var pid = stack.Ingress.Process.Id;
        using (await stack.PostAsync($"/webhook/{channel}", "{}"u8.ToArray()))
        {
            // Warm: the first request's code paths are loaded before the baseline is read.
        }

        var baseline = ProcessMemory.ResidentBytes(pid);
        var peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, ProcessMemory.ResidentBytes(pid));
                await Task.Delay(100);
            }
        });

        var senders = new List<SlowSender>();
        for (var i = 0; i < Http1Senders + Http2Senders; i++)
        {
            senders.Add(await SlowSender.StartAsync(stack.Ingress.Port, $"/webhook/{channel}", Declared, http2: i >= Http1Senders));
        }

        // 200 bytes every 250 ms: 800 B/s, above Kestrel's minimum data rate (240 B/s), so only the deadline stops them.
        var trickles = senders.Select(s => s.TrickleAsync(200, TimeSpan.FromMilliseconds(250), atMost: TimeSpan.FromSeconds(45))).ToList();
        var genuine = RandomNumberGenerator.GetBytes(256 * 1024);
        await Task.Delay(TimeSpan.FromSeconds(2));
        HttpStatusCode? accepted;
        try
        {
            using var response = await stack.PostAsync($"/webhook/{channel}", genuine, contentType: "application/octet-stream");
            accepted = response.StatusCode;
        }
        catch (HttpRequestException)
        {
            accepted = null;
        }

        var answers = await Task.WhenAll(trickles);
        await sampling.CancelAsync();
        await sampler;
        foreach (var sender in senders)
        {
            await sender.DisposeAsync();
        }

        output.WriteLine($"ingress VmRSS: baseline {baseline / 1048576.0:F1} MiB, peak {peak / 1048576.0:F1} MiB during {senders.Count} slow bodies of {Declared} declared bytes");
        output.WriteLine($"answers: {string.Join(", ", answers.GroupBy(a => a.Status).Select(g => $"{g.Key?.ToString(CultureInfo.InvariantCulture) ?? "none"} x {g.Count()}"))}; genuine webhook: {accepted?.ToString() ?? "no answer"}; OutOfMemoryException in the ingress log: {stack.Ingress.Process.Output.Contains("OutOfMemoryException", StringComparison.Ordinal)}");
        Assert.Equal(HttpStatusCode.OK, accepted);
        Assert.Equal(Http1Senders + Http2Senders, answers.Count(a => a.Status == 408));
        Assert.All(answers, a => Assert.InRange(a.After, TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(45)));
        // 200 x 10 MiB declared: the old code reserved 2 GiB of heap; now each holds a 16 KiB block (about 3 MiB together).
        // Measured: +18 to +26 MiB; the old code, +146 MiB and OutOfMemoryException (500) for 163 of the 200.
        Assert.True(peak - baseline < 64L * 1024 * 1024, $"ingress grew by {(peak - baseline) / 1048576.0:F1} MiB");
        Assert.DoesNotContain("OutOfMemoryException", stack.Ingress.Process.Output, StringComparison.Ordinal);
        var stored = (await stack.PeekAsync(channel)).Select(m => m.Body.ToByteArray()).ToList();
        Assert.Equal(2, stored.Count);
        Assert.Equal(genuine, stored[1]);
        await Eventually.UntilAsync(async () => await stack.Ingress.MetricAsync(InFlight) == 0, Patience, "the body bytes in flight to return to 0");
    }

    [Fact]
    public async Task BodiesAboveTheInFlightBudgetAre503WithRetryAfterWhileSmallWebhooksStillFitAndTheBudgetComesBackAtTheDeadline()
    {
        const int Held = 768 * 1024;
        await using var stack = new IngressStack
        {
            IngressSettings = new Dictionary<string, string>
            {
                ["Ingress:MaxBodyBytes"] = "1048576",
                ["Ingress:MaxBodyBytesInFlight"] = "4194304",
                ["Ingress:BodyTimeout"] = "00:00:10",
            },
        };
        await stack.InitializeAsync();
        var channel = await stack.NewChannelAsync("budget");
        var path = $"/webhook/{channel}";

        // Five senders each declare 1 MiB, send 768 KiB at once and hold the rest back: 3.75 MiB of the 4 MiB held.
        var holders = new List<SlowSender>();
        for (var i = 1; i <= 5; i++)
        {
            var holder = await SlowSender.StartAsync(stack.Ingress.Port, path, 1024 * 1024, http2: i % 2 == 0);
            Assert.True(await holder.SendAsync(new byte[Held]));
            holders.Add(holder);
            var expected = (double)i * Held;
            await Eventually.UntilAsync(async () => await stack.Ingress.MetricAsync(InFlight) == expected, Patience, $"{expected} body bytes in flight");
        }

        // A sixth declared 1 MiB does not fit: refused before any of its body is read.
        await using var declared = await SlowSender.StartAsync(stack.Ingress.Port, path, 1024 * 1024, http2: false);
        var refused = await declared.Answered.WaitAsync(Patience);
        // A chunked body is refused when the bytes that arrived no longer fit.
        await using var chunked = await SlowSender.StartAsync(stack.Ingress.Port, path, null, http2: false);
        Assert.True(await chunked.SendAsync(new byte[512 * 1024], chunked: true));
        var cut = await chunked.Answered.WaitAsync(Patience);
        // A small webhook still fits, and is stored byte for byte.
        var small = RandomNumberGenerator.GetBytes(1024);
        using var smallAnswer = await stack.PostAsync(path, small);

        Assert.Equal((503, "5"), (refused.Status, refused.RetryAfter));
        Assert.Equal((503, "5"), (cut.Status, cut.RetryAfter));
        Assert.Equal(HttpStatusCode.OK, smallAnswer.StatusCode);

        // The holders are cut off at the deadline (408), which gives their bytes back: a 1 MiB webhook fits again.
        var held = await Task.WhenAll(holders.Select(h => h.Answered.WaitAsync(Patience)));
        Assert.Equal(5, held.Count(a => a.Status == 408));
        await Eventually.UntilAsync(async () => await stack.Ingress.MetricAsync(InFlight) == 0, Patience, "the body bytes in flight to return to 0");
        var large = RandomNumberGenerator.GetBytes(1024 * 1024);
        using var largeAnswer = await stack.PostAsync(path, large);
        Assert.Equal(HttpStatusCode.OK, largeAnswer.StatusCode);
        Assert.Equal([small, large], (await stack.PeekAsync(channel)).Select(m => m.Body.ToByteArray()));
        foreach (var holder in holders)
        {
            await holder.DisposeAsync();
        }
    }

    [Fact]
    public async Task ConnectionsThatSendNothingOrHalfAPrefaceOrHalfAHeaderAreClosedAfterTheHeadersTimeout()
    {
        await using var stack = new IngressStack { IngressSettings = new Dictionary<string, string> { ["Ingress:RequestHeadersTimeout"] = "00:00:02" } };
        await stack.InitializeAsync();
        var channel = await stack.NewChannelAsync("silent");
        byte[][] openings =
        [
            .. Enumerable.Repeat(Array.Empty<byte>(), 20),
            .. Enumerable.Repeat("PRI * HTTP/2.0\r\n"u8.ToArray(), 5),
            .. Enumerable.Repeat(Encoding.ASCII.GetBytes($"POST /webhook/{channel} HTTP/1.1\r\nHost: x\r\nX-Slow: "), 5),
        ];

        var closes = await Task.WhenAll(openings.Select(async opening =>
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, stack.Ingress.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(opening);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var timeout = new CancellationTokenSource(Patience);
            var buffer = new byte[4096];
            try
            {
                while (await stream.ReadAsync(buffer, timeout.Token) > 0)
                {
                    // Kestrel may answer an unfinished HTTP/1.1 header with 408 before it closes.
                }
            }
            catch (IOException)
            {
                // A reset is a close too.
            }

            return clock.Elapsed;
        }));
        using var webhook = await stack.PostAsync($"/webhook/{channel}", "{\"after\":true}"u8.ToArray());

        output.WriteLine($"closed after {closes.Min().TotalSeconds:F1}..{closes.Max().TotalSeconds:F1} s");
        Assert.All(closes, after => Assert.InRange(after, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(60)));
        Assert.Equal(HttpStatusCode.OK, webhook.StatusCode);
        Assert.Equal("{\"after\":true}", Assert.Single(await stack.PeekAsync(channel)).Body.ToStringUtf8());
    }
}

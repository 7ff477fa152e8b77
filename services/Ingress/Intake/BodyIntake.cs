using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Options;
using Microsoft.IO;

namespace WebhookConnect.Ingress.Intake;

/// <summary>How reading a body ended.</summary>
public enum BodyOutcome
{
    /// <summary>The whole body is in <see cref="BodyRead.Body"/>, charged to the budget until released.</summary>
    Read,

    /// <summary>Larger than the limit, declared or actual: 413.</summary>
    TooLarge,

    /// <summary>Holding it would go above <c>Ingress:MaxBodyBytesInFlight</c>: 503 + <c>Retry-After</c>.</summary>
    OverBudget,

    /// <summary>Not complete within <c>Ingress:BodyTimeout</c>: 408.</summary>
    TimedOut,
}

/// <param name="Charged">Bytes charged to the budget for <paramref name="Body"/>; the caller releases them once the
/// request is answered (<see cref="BodyIntake.Release"/>).</param>
public readonly record struct BodyRead(BodyOutcome Outcome, byte[] Body, long Charged);

/// <summary>
/// Reads webhook bodies into memory that grows only as bytes arrive (SPEC §11: slow senders are bounded by budgets
/// and timeouts). A declared <c>Content-Length</c> is a promise, not a reservation: it decides 413 before anything is
/// read, and nothing is allocated for it.
/// </summary>
/// <remarks>
/// A body that is whole in the first read (every small webhook on a healthy network) is copied once into an array of
/// its size. Any other body goes through pooled blocks of <see cref="BlockSize"/> bytes
/// (<c>Microsoft.IO.RecyclableMemoryStream</c>, which keeps at most <see cref="PoolFreeBytes"/> of free blocks),
/// charged to the <see cref="BodyBudget"/> block by block before they are taken, and copied into an array of its
/// size at the end. The message keeps that array (it outlives the request in gRPC and spool buffers, so it cannot
/// be a pooled one). Within <c>Ingress:BodyTimeout</c> from the first read, the body must be complete.
/// </remarks>
public sealed class BodyIntake
{
    /// <summary>Small, so that a slow body holds little more than what it sent (16 KiB at the start).</summary>
    public const int BlockSize = 16 * 1024;

    /// <summary>Free blocks kept for reuse; beyond this, returned blocks go to the garbage collector.</summary>
    public const long PoolFreeBytes = 16L * 1024 * 1024;

    private readonly RecyclableMemoryStreamManager _streams;
    private readonly TimeProvider _time;
    private readonly TimeSpan _timeout;

    public BodyIntake(IOptions<IngressOptions> options, TimeProvider time)
    {
        _time = time;
        _timeout = options.Value.BodyTimeout;
        Budget = new BodyBudget(options.Value.MaxBodyBytesInFlight);
        _streams = new RecyclableMemoryStreamManager(new RecyclableMemoryStreamManager.Options
        {
            BlockSize = BlockSize,
            LargeBufferMultiple = 1024 * 1024,
            MaximumBufferSize = 16 * 1024 * 1024,
            MaximumSmallPoolFreeBytes = PoolFreeBytes,
            MaximumLargePoolFreeBytes = 0,
            AggressiveBufferReturn = true,
        });
    }

    public BodyBudget Budget { get; }

    public void Release(long charged) => Budget.Release(charged);

    /// <summary>Reads the whole body of <paramref name="context"/>, at most <paramref name="limit"/> bytes.</summary>
    public async ValueTask<BodyRead> ReadAsync(HttpContext context, int limit)
    {
        var declared = context.Request.ContentLength;
        if (declared > limit)
        {
            return new BodyRead(BodyOutcome.TooLarge, [], 0);
        }

        // A look, not a reservation: a body that cannot fit now is refused before a byte of it is read.
        if (declared is > 0 and var length && !Budget.Fits(length))
        {
            return new BodyRead(BodyOutcome.OverBudget, [], 0);
        }

        var reader = context.Request.BodyReader;
        var tried = reader.TryRead(out var first);
        if (tried && first.IsCompleted)
        {
            return Whole(reader, first, limit);
        }

        RecyclableMemoryStream? pooled = null;
        long charged = 0;
        using var deadline = new CancellationTokenSource(_timeout, _time);
        using var aborted = context.RequestAborted.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), deadline);
        try
        {
            var result = first;
            var haveResult = tried;
            while (true)
            {
                if (!haveResult)
                {
                    result = await reader.ReadAsync(deadline.Token);
                }

                haveResult = false;
                var buffer = result.Buffer;
                if (pooled is null && result.IsCompleted)
                {
                    return Whole(reader, result, limit);
                }

                var total = (pooled?.Length ?? 0) + buffer.Length;
                if (total > limit)
                {
                    reader.AdvanceTo(buffer.End);
                    return new BodyRead(BodyOutcome.TooLarge, [], 0);
                }

                if (!buffer.IsEmpty)
                {
                    // Whole blocks are what the pool hands out, so whole blocks are what the budget is charged.
                    var blocks = (total + BlockSize - 1) / BlockSize * BlockSize;
                    if (blocks > charged)
                    {
                        if (!Budget.TryCharge(blocks - charged))
                        {
                            reader.AdvanceTo(buffer.End);
                            return new BodyRead(BodyOutcome.OverBudget, [], 0);
                        }

                        charged = blocks;
                    }

                    pooled ??= _streams.GetStream();
                    foreach (var segment in buffer)
                    {
                        pooled.Write(segment.Span);
                    }
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    return Copy(pooled!);
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            return new BodyRead(BodyOutcome.TimedOut, [], 0);
        }
        finally
        {
            Budget.Release(charged);
            pooled?.Dispose();
        }
    }

    /// <summary>The body as one array of its size, charged to the budget (the pooled blocks are released after).</summary>
    private BodyRead Copy(RecyclableMemoryStream pooled)
    {
        if (!Budget.TryCharge(pooled.Length))
        {
            return new BodyRead(BodyOutcome.OverBudget, [], 0);
        }

        var body = GC.AllocateUninitializedArray<byte>((int)pooled.Length);
        pooled.GetReadOnlySequence().CopyTo(body);
        return new BodyRead(BodyOutcome.Read, body, body.Length);
    }

    private BodyRead Whole(PipeReader reader, ReadResult result, int limit)
    {
        var buffer = result.Buffer;
        try
        {
            if (buffer.Length > limit)
            {
                return new BodyRead(BodyOutcome.TooLarge, [], 0);
            }

            if (!Budget.TryCharge(buffer.Length))
            {
                return new BodyRead(BodyOutcome.OverBudget, [], 0);
            }

            return new BodyRead(BodyOutcome.Read, buffer.ToArray(), buffer.Length);
        }
        finally
        {
            reader.AdvanceTo(buffer.End);
        }
    }
}

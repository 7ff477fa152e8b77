namespace WebhookConnect.Ingress.Intake;

/// <summary>
/// The body bytes all requests hold in memory together (<c>Ingress:MaxBodyBytesInFlight</c>): charged as buffers
/// grow with bytes that have arrived, released when the request is answered. A charge that would go above the limit
/// is refused, and its request gets 503 + <c>Retry-After</c>.
/// </summary>
/// <remarks>
/// Hand-written rather than <c>System.Threading.RateLimiting.ConcurrencyLimiter</c>: that limiter counts permits as
/// an <c>int</c> and hands out a lease object per acquisition, while a body is charged once per read (many times per
/// body on the request path); one atomic add per charge does the same job without allocating.
/// </remarks>
public sealed class BodyBudget(long limit)
{
    private long _held;

    public long Limit { get; } = limit;

    /// <summary>Body bytes held right now.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <summary>Whether <paramref name="bytes"/> more still fit (a look, not a charge).</summary>
    public bool Fits(long bytes) => Held + bytes <= Limit;

    /// <summary>Charges <paramref name="bytes"/>, or charges nothing and returns false when they do not fit.</summary>
    public bool TryCharge(long bytes)
    {
        if (Interlocked.Add(ref _held, bytes) <= Limit)
        {
            return true;
        }

        Interlocked.Add(ref _held, -bytes);
        return false;
    }

    public void Release(long bytes) => Interlocked.Add(ref _held, -bytes);
}

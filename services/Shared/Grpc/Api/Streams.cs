using System.Runtime.CompilerServices;

namespace Grpc.Core;

/// <summary>Reads a stream of messages, one at a time: <c>while (await reader.MoveNext(ct)) use(reader.Current);</c></summary>
public interface IAsyncStreamReader<out T>
{
    T Current { get; }

    Task<bool> MoveNext(CancellationToken cancellationToken);
}

/// <summary>Writes a stream of messages. Only one write may be pending at a time (single-writer discipline).</summary>
public interface IAsyncStreamWriter<in T>
{
    WriteOptions? WriteOptions { get; set; }

    Task WriteAsync(T message);

    Task WriteAsync(T message, CancellationToken cancellationToken) => WriteAsync(message);
}

public interface IServerStreamWriter<in T> : IAsyncStreamWriter<T>
{
}

public interface IClientStreamWriter<in T> : IAsyncStreamWriter<T>
{
    /// <summary>Half-closes the call: tells the server no more requests follow.</summary>
    Task CompleteAsync();
}

[Flags]
public enum WriteFlags
{
    BufferHint = 0x1,
    NoCompress = 0x2,
}

public sealed class WriteOptions(WriteFlags flags = default)
{
    public static readonly WriteOptions Default = new();

    public WriteFlags Flags { get; } = flags;
}

public static class AsyncStreamReaderExtensions
{
    /// <summary>Reads every remaining message as an async enumerable.</summary>
    public static async IAsyncEnumerable<T> ReadAllAsync<T>(this IAsyncStreamReader<T> reader, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        while (await reader.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            yield return reader.Current;
        }
    }
}

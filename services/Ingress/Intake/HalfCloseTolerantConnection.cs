using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace WebhookConnect.Ingress.Intake;

/// <summary>
/// An HTTP/1.1 connection as Kestrel should see it when the client half-closes: the request it sent before its FIN
/// is answered.
/// </summary>
/// <remarks>
/// Kestrel's socket transport fires <see cref="ConnectionContext.ConnectionClosed"/> as soon as the client's FIN
/// arrives, and Kestrel's HTTP/1.1 connection takes that as the client being gone: it aborts the response; its body
/// reader also takes a read that reports the end of the input as a cut-off body, even when the whole body is in that
/// read. So a complete request followed at once by <c>shutdown(SHUT_WR)</c> was never answered (Kestrel treats a
/// FIN as abortive by design: dotnet/aspnetcore#13188). But a half-closed client still reads: TCP's CLOSE means
/// "I have no more data to send" (RFC 9293 §3.6). This view of the connection keeps everything of the transport
/// but two things: its <see cref="ConnectionClosed"/> fires only when the connection is aborted or reading from it
/// fails (a reset), and its input reports the FIN only after every byte before it was examined. Kestrel then
/// parses what was sent, answers, and closes the connection after the last request, as for any client. A client
/// that is really gone is noticed when reading or writing fails, and Kestrel's timeouts still apply; the webhook
/// handler never depends on the client anyway (a started publish is not cancelled).
/// </remarks>
/// </remarks>
internal sealed class HalfCloseTolerantConnection : ConnectionContext
{
    private readonly ConnectionContext _inner;
    private readonly CancellationTokenSource _closed = new();

    public HalfCloseTolerantConnection(ConnectionContext inner)
    {
        _inner = inner;
        Transport = new DuplexPipe(new EndAfterDataReader(inner.Transport.Input, this), inner.Transport.Output);
        ConnectionClosed = _closed.Token;
    }

    public override string ConnectionId
    {
        get => _inner.ConnectionId;
        set => _inner.ConnectionId = value;
    }

    public override IFeatureCollection Features => _inner.Features;

    public override IDictionary<object, object?> Items
    {
        get => _inner.Items;
        set => _inner.Items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public override EndPoint? LocalEndPoint
    {
        get => _inner.LocalEndPoint;
        set => _inner.LocalEndPoint = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _inner.RemoteEndPoint;
        set => _inner.RemoteEndPoint = value;
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _inner.Abort(abortReason);
        Close();
    }

    /// <summary>Does not dispose the transport connection: Kestrel does, once the connection middleware returns.</summary>
    public override ValueTask DisposeAsync()
    {
        _closed.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Close()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already over.
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>
    /// The transport's input as a half-closed socket delivers it: the end of the input (the client's FIN) is
    /// reported only once the reader has examined every byte sent before it, and a failed read (a reset, an abort)
    /// closes the connection for Kestrel, as the transport's own <c>ConnectionClosed</c> would have.
    /// </summary>
    /// <remarks>
    /// Kestrel's HTTP/1.1 body reader takes a read that reports the end of the input as an unexpected end of the
    /// body even when the rest of the body is in that same read; a request followed at once by a FIN would get
    /// 400 and its connection reset. Holding back <see cref="ReadResult.IsCompleted"/> until nothing new is left
    /// to examine is what a TCP reader sees anyway: the bytes first, then the end.
    /// </remarks>
    private sealed class EndAfterDataReader(PipeReader inner, HalfCloseTolerantConnection connection) : PipeReader
    {
        private SequencePosition _returnedEnd;
        private bool _examinedToEnd;

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            // Most reads complete at once; only a read that waits pays for the watching state machine.
            ValueTask<ReadResult> read;
            try
            {
                read = inner.ReadAsync(cancellationToken);
            }
            catch
            {
                // A pipe whose writer failed throws at once.
                connection.Close();
                throw;
            }

            return read.IsCompletedSuccessfully ? ValueTask.FromResult(Deliver(read.Result)) : WatchAsync(read, cancellationToken);
        }

        public override bool TryRead(out ReadResult result)
        {
            bool read;
            try
            {
                read = inner.TryRead(out result);
            }
            catch
            {
                connection.Close();
                throw;
            }

            if (read)
            {
                result = Deliver(result);
            }

            return read;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            _examinedToEnd = examined.Equals(_returnedEnd);
            inner.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        // Pooled: on a keep-alive connection the read that waits for the next request is one of these each time.
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        private async ValueTask<ReadResult> WatchAsync(ValueTask<ReadResult> read, CancellationToken cancellationToken)
        {
            try
            {
                return Deliver(await read);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                connection.Close();
                throw;
            }
        }

        private ReadResult Deliver(ReadResult result)
        {
            var buffer = result.Buffer;
            var unseen = !buffer.IsEmpty && !(_examinedToEnd && buffer.End.Equals(_returnedEnd));
            _returnedEnd = buffer.End;
            _examinedToEnd = false;
            return result.IsCompleted && unseen ? new ReadResult(buffer, result.IsCanceled, isCompleted: false) : result;
        }
    }
}

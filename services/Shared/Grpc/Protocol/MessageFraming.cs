using System.Buffers;
using System.IO.Compression;
using System.IO.Pipelines;
using Grpc.Core;

namespace WebhookConnect.Grpc.Protocol;

/// <summary>
/// Reads Length-Prefixed-Messages from a pipe. One instance per direction of one call; not thread-safe
/// (a stream has one reader).
/// </summary>
internal sealed class MessageReader(PipeReader reader, int maxMessageSize, string? encoding)
{
    private readonly PayloadContext _context = new();

    /// <summary>Reads the next message; false at a clean end of stream.</summary>
    public async ValueTask<(bool HasMessage, T Message)> ReadAsync<T>(Func<DeserializationContext, T> deserializer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= GrpcProtocol.FrameHeaderSize)
            {
                var (compressed, length) = ReadHeader(buffer);
                if (compressed > 1)
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    throw new RpcException(new Status(StatusCode.Internal, $"Malformed message frame: compressed flag is {compressed}, expected 0 or 1."));
                }

                if (length > (uint)maxMessageSize)
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    throw new RpcException(new Status(StatusCode.ResourceExhausted, $"Received message of {length} bytes exceeds the maximum configured message size of {maxMessageSize} bytes."));
                }

                var frameLength = GrpcProtocol.FrameHeaderSize + (long)length;
                if (buffer.Length >= frameLength)
                {
                    var payload = buffer.Slice(GrpcProtocol.FrameHeaderSize, length);
                    T message;
                    try
                    {
                        message = Deserialize(deserializer, payload, compressed == 1);
                    }
                    finally
                    {
                        reader.AdvanceTo(buffer.GetPosition(frameLength));
                    }

                    return (true, message);
                }
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                if (buffer.Length == 0)
                {
                    return (false, default!);
                }

                throw new RpcException(new Status(StatusCode.Internal, $"Incomplete message: the stream ended {buffer.Length} bytes into a frame."));
            }

            if (result.IsCanceled)
            {
                throw new OperationCanceledException("The read was cancelled.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static (byte Compressed, uint Length) ReadHeader(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> header = stackalloc byte[GrpcProtocol.FrameHeaderSize];
        buffer.Slice(0, GrpcProtocol.FrameHeaderSize).CopyTo(header);
        return (header[0], System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[1..]));
    }

    private T Deserialize<T>(Func<DeserializationContext, T> deserializer, ReadOnlySequence<byte> payload, bool compressed)
    {
        if (compressed)
        {
            payload = new ReadOnlySequence<byte>(Decompress(payload));
        }

        _context.Payload = payload;
        try
        {
            return deserializer(_context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw new RpcException(new Status(StatusCode.Internal, $"Failed to deserialize a {typeof(T).Name} message: {ex.Message}", ex));
        }
        finally
        {
            _context.Payload = default;
        }
    }

    private byte[] Decompress(ReadOnlySequence<byte> payload)
    {
        if (!string.Equals(encoding, "gzip", StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(new Status(StatusCode.Internal, $"Received a compressed message but the message encoding is '{encoding ?? "identity"}'."));
        }

        using var input = new MemoryStream(payload.ToArray());
        using var gzip = new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = gzip.Read(chunk, 0, chunk.Length)) > 0)
            {
                // The limit applies to the decompressed size, or a small bomb could exhaust memory.
                if (output.Length + read > maxMessageSize)
                {
                    throw new RpcException(new Status(StatusCode.ResourceExhausted, $"Decompressed message exceeds the maximum configured message size of {maxMessageSize} bytes."));
                }

                output.Write(chunk, 0, read);
            }
        }
        catch (InvalidDataException ex)
        {
            throw new RpcException(new Status(StatusCode.Internal, "Failed to decompress a gzip message.", ex));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return output.ToArray();
    }

    private sealed class PayloadContext : DeserializationContext
    {
        public ReadOnlySequence<byte> Payload { get; set; }

        public override int PayloadLength => (int)Payload.Length;

        public override byte[] PayloadAsNewBuffer() => Payload.ToArray();

        public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => Payload;
    }
}

/// <summary>
/// Writes one message as a Length-Prefixed-Message into a buffer writer. When the serializer announces the
/// payload length first (protobuf messages do), the header and payload go straight into the output without a copy,
/// and the bytes written are counted so a serializer that writes more or less than it announced is caught.
/// </summary>
internal sealed class MessageWriter(int maxMessageSize, bool gzip = false)
{
    private readonly FrameContext _context = new();
    private ArrayBufferWriter<byte>? _uncompressed;
    private MemoryStream? _compressed;

    /// <summary>True when the last <see cref="Write{T}"/> failed after bytes had reached the output.</summary>
    public bool PartiallyWritten => _context.Committed && !_context.Completed;

    /// <summary>Whether messages are gzip-compressed (Compressed-Flag 1); the peer was told with grpc-encoding.</summary>
    public bool Compresses => gzip;

    public void Write<T>(IBufferWriter<byte> output, T message, Action<T, SerializationContext> serializer, bool compress = true)
    {
        if (gzip && compress)
        {
            WriteCompressed(output, message, serializer);
            return;
        }

        Serialize(output, message, serializer);
    }

    private void Serialize<T>(IBufferWriter<byte> output, T message, Action<T, SerializationContext> serializer)
    {
        _context.Reset(output, maxMessageSize);
        serializer(message, _context);
        if (!_context.Completed)
        {
            throw new InvalidOperationException("The message serializer did not complete the serialization context.");
        }
    }

    private void WriteCompressed<T>(IBufferWriter<byte> output, T message, Action<T, SerializationContext> serializer)
    {
        // The size limit applies to the serialized message, before compression, as the receiver checks it after.
        _uncompressed ??= new ArrayBufferWriter<byte>();
        _uncompressed.ResetWrittenCount();
        Serialize(_uncompressed, message, serializer);
        _context.Reset(output, maxMessageSize);

        _compressed ??= new MemoryStream();
        _compressed.SetLength(0);
        using (var gzipStream = new GZipStream(_compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzipStream.Write(_uncompressed.WrittenSpan[GrpcProtocol.FrameHeaderSize..]);
        }

        var length = (int)_compressed.Length;
        var header = output.GetSpan(GrpcProtocol.FrameHeaderSize);
        GrpcProtocol.WriteFrameHeader(header, compressed: true, length);
        output.Advance(GrpcProtocol.FrameHeaderSize);
        output.Write(_compressed.GetBuffer().AsSpan(0, length));
        _context.MarkCompleted();
    }

    private sealed class FrameContext : SerializationContext, IBufferWriter<byte>
    {
        private IBufferWriter<byte> _output = null!;
        private int _maxSize;
        private int _declaredLength = -1;
        private int _written;
        private ArrayBufferWriter<byte>? _buffer;
        private bool _buffering;

        public bool Completed { get; private set; }

        public bool Committed { get; private set; }

        public void Reset(IBufferWriter<byte> output, int maxSize)
        {
            _output = output;
            _maxSize = maxSize;
            _declaredLength = -1;
            _written = 0;
            _buffering = false;
            Completed = false;
            Committed = false;
        }

        /// <summary>Marks a frame written outside the context (compressed) as complete.</summary>
        public void MarkCompleted() => Completed = true;

        public override void SetPayloadLength(int payloadLength)
        {
            CheckSize(payloadLength);
            _declaredLength = payloadLength;
        }

        public override IBufferWriter<byte> GetBufferWriter()
        {
            if (_declaredLength >= 0)
            {
                WriteHeader(_declaredLength);
                return this;
            }

            _buffering = true;
            _buffer ??= new ArrayBufferWriter<byte>();
            _buffer.ResetWrittenCount();
            return _buffer;
        }

        public override void Complete()
        {
            if (_buffering)
            {
                CheckSize(_buffer!.WrittenCount);
                WriteHeader(_buffer.WrittenCount);
                _output.Write(_buffer.WrittenSpan);
                if (_buffer.Capacity > 1024 * 1024)
                {
                    // Don't pin a large buffer for the rest of a long-lived stream.
                    _buffer = null;
                }
            }
            else if (_declaredLength >= 0 && _written != _declaredLength)
            {
                throw new InvalidOperationException($"The serializer wrote {_written} bytes after announcing {_declaredLength}.");
            }

            Completed = true;
        }

        public override void Complete(byte[] payload)
        {
            CheckSize(payload.Length);
            WriteHeader(payload.Length);
            _output.Write(payload);
            Completed = true;
        }

        void IBufferWriter<byte>.Advance(int count)
        {
            _written += count;
            _output.Advance(count);
        }

        Memory<byte> IBufferWriter<byte>.GetMemory(int sizeHint) => _output.GetMemory(sizeHint);

        Span<byte> IBufferWriter<byte>.GetSpan(int sizeHint) => _output.GetSpan(sizeHint);

        private void WriteHeader(int length)
        {
            var span = _output.GetSpan(GrpcProtocol.FrameHeaderSize);
            GrpcProtocol.WriteFrameHeader(span, compressed: false, length);
            _output.Advance(GrpcProtocol.FrameHeaderSize);
            Committed = true;
        }

        private void CheckSize(int length)
        {
            if (length > _maxSize)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"Sending message of {length} bytes exceeds the maximum configured message size of {_maxSize} bytes."));
            }
        }
    }
}

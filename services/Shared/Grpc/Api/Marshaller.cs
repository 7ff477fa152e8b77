using System.Buffers;

namespace Grpc.Core;

/// <summary>Turns messages into bytes and back; protoc's C# plugin creates these for every message type.</summary>
public class Marshaller<T>
{
    public Marshaller(Func<T, byte[]> serializer, Func<byte[], T> deserializer)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentNullException.ThrowIfNull(deserializer);
        Serializer = serializer;
        Deserializer = deserializer;
        ContextualSerializer = (value, context) => context.Complete(serializer(value));
        ContextualDeserializer = context => deserializer(context.PayloadAsNewBuffer());
    }

    public Marshaller(Action<T, SerializationContext> serializer, Func<DeserializationContext, T> deserializer)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentNullException.ThrowIfNull(deserializer);
        ContextualSerializer = serializer;
        ContextualDeserializer = deserializer;
        Serializer = value =>
        {
            var context = new ArraySerializationContext();
            serializer(value, context);
            return context.Result;
        };
        Deserializer = bytes => deserializer(new ArrayDeserializationContext(bytes));
    }

    public Func<T, byte[]> Serializer { get; }

    public Func<byte[], T> Deserializer { get; }

    public Action<T, SerializationContext> ContextualSerializer { get; }

    public Func<DeserializationContext, T> ContextualDeserializer { get; }

    private sealed class ArraySerializationContext : SerializationContext
    {
        private ArrayBufferWriter<byte>? _writer;
        private byte[]? _result;

        public byte[] Result => _result ?? throw new InvalidOperationException("The serializer did not complete.");

        public override void Complete(byte[] payload) => _result = payload;

        public override IBufferWriter<byte> GetBufferWriter() => _writer ??= new ArrayBufferWriter<byte>();

        public override void Complete() => _result = _writer?.WrittenSpan.ToArray() ?? [];
    }

    private sealed class ArrayDeserializationContext(byte[] payload) : DeserializationContext
    {
        public override int PayloadLength => payload.Length;

        public override byte[] PayloadAsNewBuffer() => payload;

        public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(payload);
    }
}

public static class Marshallers
{
    public static Marshaller<T> Create<T>(Func<T, byte[]> serializer, Func<byte[], T> deserializer) => new(serializer, deserializer);

    public static Marshaller<T> Create<T>(Action<T, SerializationContext> serializer, Func<DeserializationContext, T> deserializer) => new(serializer, deserializer);
}

/// <summary>Where a serializer writes one message: either one byte[] or a buffer writer followed by <see cref="Complete()"/>.</summary>
public abstract class SerializationContext
{
    public virtual void Complete(byte[] payload) => throw new NotImplementedException();

    public virtual IBufferWriter<byte> GetBufferWriter() => throw new NotImplementedException();

    /// <summary>Announces the payload size before writing, which lets the transport write the frame header first.</summary>
    public virtual void SetPayloadLength(int payloadLength)
    {
    }

    public virtual void Complete() => throw new NotImplementedException();
}

/// <summary>One received message's payload, offered as a sequence (no copy) or a new array.</summary>
public abstract class DeserializationContext
{
    public abstract int PayloadLength { get; }

    public virtual byte[] PayloadAsNewBuffer() => PayloadAsReadOnlySequence().ToArray();

    public virtual ReadOnlySequence<byte> PayloadAsReadOnlySequence() => throw new NotImplementedException();
}

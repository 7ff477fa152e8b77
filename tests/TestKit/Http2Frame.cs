using System.Buffers.Binary;

namespace WebhookConnect.TestKit;

/// <summary>One HTTP/2 frame on the wire (RFC 9113 §4.1), for tests that speak raw HTTP/2 to a server.</summary>
public static class Http2Frame
{
    /// <summary>The 9-byte header (24-bit length, type, flags, 31-bit stream id) followed by the payload.</summary>
    public static byte[] Encode(byte type, byte flags, int stream, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), stream);
        payload.CopyTo(frame, 9);
        return frame;
    }
}

using System.Buffers.Binary;

namespace ActorRelay.Tests.Latching;

/// <summary>Builds RTP packets byte by byte (RFC 3550 §5.1, §5.3.1) for the classifier and quality tests.</summary>
public sealed record RtpPacketSpec(
    ushort Sequence,
    uint Ssrc,
    uint Timestamp = 0,
    byte PayloadType = 0,
    bool Marker = false,
    int CsrcCount = 0,
    int? ExtensionWords = null,
    int PayloadLength = 160,
    int Padding = 0,
    byte Fill = 0xD5)
{
    public int HeaderLength => 12 + 4 * CsrcCount + (ExtensionWords is { } w ? 4 + 4 * w : 0);

    public byte[] Build()
    {
        var p = new byte[HeaderLength + PayloadLength + Padding];
        p.AsSpan().Fill(Fill);
        p[0] = (byte)(0x80 | (Padding > 0 ? 0x20 : 0) | (ExtensionWords is null ? 0 : 0x10) | CsrcCount);
        p[1] = (byte)((Marker ? 0x80 : 0) | PayloadType);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), Sequence);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), Timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), Ssrc);
        for (var i = 0; i < CsrcCount; i++) BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(12 + 4 * i), 0xC0000000u + (uint)i);
        if (ExtensionWords is { } words)
        {
            var at = 12 + 4 * CsrcCount;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(at), 0xBEDE);             // RFC 8285 one-byte profile
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(at + 2), (ushort)words);
        }
        if (Padding > 0) p[^1] = (byte)Padding;
        return p;
    }
}

public static class RtpPackets
{
    public static byte[] Rtp(ushort seq, uint ssrc, uint timestamp = 0, byte pt = 0, bool marker = false, int payload = 160) =>
        new RtpPacketSpec(seq, ssrc, timestamp, pt, marker, PayloadLength: payload).Build();
}

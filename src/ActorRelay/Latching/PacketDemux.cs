using System.Buffers.Binary;

namespace ActorRelay.Latching;

/// <summary>What kind of packet a datagram on an RTP port is (RFC 7983 §7, the first byte decides).</summary>
public enum PacketClass : byte
{
    /// <summary>A zero-length datagram.</summary>
    Empty,
    /// <summary>First byte 0..3 and a valid STUN header: magic cookie, message length a multiple of 4 that fits (RFC 5389 §6).</summary>
    Stun,
    /// <summary>First byte 16..19 (RFC 6189).</summary>
    Zrtp,
    /// <summary>First byte 20..63 (RFC 7983: DTLS content types, DTLS 1.3 unified header).</summary>
    Dtls,
    /// <summary>First byte 64..79 and a TURN ChannelData header whose length fits (RFC 8656 §12.4).</summary>
    TurnChannel,
    /// <summary>First byte 128..191 and structurally valid RTP (<see cref="RtpHeader.TryReadRtp"/>), any SSRC.</summary>
    Rtp,
    /// <summary>First byte 128..191, second byte 192..223 and structurally valid RTCP (<see cref="RtpHeader.IsValidRtcp"/>), any SSRC.</summary>
    Rtcp,
    /// <summary>Anything else: an unassigned first byte, or a first byte of one of the classes above whose header is
    /// malformed (too short, no STUN cookie, lengths past the end).</summary>
    Other,
}

/// <summary>
/// RFC 7983 first-byte demultiplexing of what arrives on an RTP port, with each class's cheap header check on top.
/// Pure, allocation-free, never throws, never reads outside the datagram; zero-length datagrams are <see cref="PacketClass.Empty"/>.
/// <para>Checks beyond the first byte: STUN needs the 20-byte header, the magic cookie 0x2112A442 (so classic
/// RFC 3489 STUN without a cookie is <see cref="PacketClass.Other"/>), the two top bits of the message type clear and a
/// message length that is a multiple of 4 and fits in the datagram. TURN ChannelData needs its 4-byte header and a
/// length that fits (trailing padding is allowed). RTP and RTCP use <see cref="RtpHeader"/>'s structural checks
/// (SSRC 0 is still RTP here; only the latch refuses it). ZRTP and DTLS are decided by the first byte alone.</para>
/// </summary>
public static class PacketDemux
{
    /// <summary>The STUN magic cookie (RFC 5389 §6).</summary>
    public const uint StunMagicCookie = 0x2112A442;

    public static PacketClass Classify(ReadOnlySpan<byte> datagram)
    {
        if (datagram.IsEmpty) return PacketClass.Empty;
        var b0 = datagram[0];
        switch (b0)
        {
            case <= 3:
                return IsStun(datagram) ? PacketClass.Stun : PacketClass.Other;
            case >= 16 and <= 19:
                return PacketClass.Zrtp;
            case >= 20 and <= 63:
                return PacketClass.Dtls;
            case >= 64 and <= 79:
                return IsTurnChannelData(datagram) ? PacketClass.TurnChannel : PacketClass.Other;
            case >= 128 and <= 191:
                if (datagram.Length >= 2 && RtpHeader.IsRtcpPacketType(datagram[1]))
                    return RtpHeader.IsValidRtcp(datagram) ? PacketClass.Rtcp : PacketClass.Other;
                return RtpHeader.TryReadRtp(datagram, out _) ? PacketClass.Rtp : PacketClass.Other;
            default:
                return PacketClass.Other;
        }
    }

    /// <summary>A STUN message header (RFC 5389 §6): top two bits 0, magic cookie, length a multiple of 4 that fits.</summary>
    public static bool IsStun(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < 20) return false;
        if ((datagram[0] & 0xC0) != 0) return false;
        if (BinaryPrimitives.ReadUInt32BigEndian(datagram.Slice(4, 4)) != StunMagicCookie) return false;
        var length = BinaryPrimitives.ReadUInt16BigEndian(datagram.Slice(2, 2));
        return (length & 3) == 0 && length <= datagram.Length - 20;
    }

    /// <summary>A TURN ChannelData header (RFC 8656 §12.4): channel number 0x4000..0x4FFF and a length that fits.</summary>
    public static bool IsTurnChannelData(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < 4) return false;
        if (datagram[0] is < 0x40 or > 0x4F) return false;
        var length = BinaryPrimitives.ReadUInt16BigEndian(datagram.Slice(2, 2));
        return length <= datagram.Length - 4;
    }
}

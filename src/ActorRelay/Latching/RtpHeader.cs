using System.Buffers.Binary;

namespace ActorRelay.Latching;

public enum RtpKind : byte { NotRtp, Rtp, Rtcp }

/// <summary>
/// The fields of an RTP header that passed <see cref="RtpHeader.TryReadRtp"/>: the fixed header (RFC 3550 §5.1)
/// plus where the payload starts and how much padding ends the packet.
/// </summary>
public readonly record struct RtpFixedHeader(
    bool Marker,
    byte PayloadType,
    ushort Sequence,
    uint Timestamp,
    uint Ssrc,
    int CsrcCount,
    bool HasExtension,
    int HeaderLength,
    int PaddingLength)
{
    /// <summary>Bytes of payload between the header (CSRCs and extension included) and the padding.</summary>
    public int PayloadLength(int datagramLength) => datagramLength - HeaderLength - PaddingLength;
}

/// <summary>
/// Classifies a datagram as RTP, RTCP or neither (RFC 7983 first-byte demultiplexing, version 2,
/// RFC 5761 RTP/RTCP multiplexing) and reads what latching needs: SSRC and sequence number.
/// Pure, allocation-free, never throws, never reads outside the datagram.
/// <para>Validity (a datagram that fails any rule is <see cref="RtpKind.NotRtp"/>):</para>
/// <list type="bullet">
/// <item>RTP: version 2; the 12-byte fixed header, the CSRC list (4 × CC bytes) and, when X is set, the extension
/// header (4 bytes) and its data (4 × length bytes) all fit in the datagram (RFC 3550 §5.1, §5.3.1); when P is set,
/// the last byte (the padding count) is at least 1 and the padding fits after the header; SSRC is not 0
/// (a policy rule of the latch, not of RFC 3550: SSRC 0 never latches).</item>
/// <item>RTCP (second byte 192..223, RFC 5761 §4): version 2, at least 8 bytes (header and sender SSRC), and the
/// first packet's length field ((length + 1) × 4 bytes) fits in the datagram, as in RFC 3550 Appendix A.2 but
/// without requiring the lengths of a whole compound to add up (encrypted SRTCP carries a trailer after them,
/// and RFC 5506 reduced-size RTCP need not start with SR/RR); SSRC is not 0.</item>
/// </list>
/// </summary>
public static class RtpHeader
{
    /// <summary>Size of the RTP fixed header (RFC 3550 §5.1).</summary>
    public const int FixedHeaderLength = 12;

    public static RtpKind Classify(ReadOnlySpan<byte> datagram, out uint ssrc, out ushort sequence)
    {
        ssrc = 0;
        sequence = 0;
        if (datagram.Length < 8) return RtpKind.NotRtp;
        var b0 = datagram[0];
        if (b0 < 128 || b0 > 191) return RtpKind.NotRtp;        // RFC 7983: 128..191 is RTP/RTCP; also version 2
        if (IsRtcpPacketType(datagram[1]))                        // RFC 5761: RTCP packet types 192..223
        {
            if (!IsValidRtcp(datagram)) return RtpKind.NotRtp;
            ssrc = BinaryPrimitives.ReadUInt32BigEndian(datagram.Slice(4, 4));
            return ssrc == 0 ? RtpKind.NotRtp : RtpKind.Rtcp;
        }
        if (!TryReadRtp(datagram, out var header)) return RtpKind.NotRtp;
        if (header.Ssrc == 0) return RtpKind.NotRtp;              // SSRC 0: never latch (rtpproxy's rule)
        ssrc = header.Ssrc;
        sequence = header.Sequence;
        return RtpKind.Rtp;
    }

    /// <summary>
    /// Reads a structurally valid RTP header (version 2, fixed header, CSRC list and extension inside the datagram,
    /// consistent padding; RTCP packet types 192..223 are not RTP). Any SSRC, 0 included, is accepted here.
    /// </summary>
    public static bool TryReadRtp(ReadOnlySpan<byte> datagram, out RtpFixedHeader header)
    {
        header = default;
        if (datagram.Length < FixedHeaderLength) return false;
        var b0 = datagram[0];
        if (b0 >> 6 != 2) return false;
        var b1 = datagram[1];
        if (IsRtcpPacketType(b1)) return false;
        var csrcCount = b0 & 0x0F;
        var length = FixedHeaderLength + 4 * csrcCount;           // at most 72: no overflow
        if (length > datagram.Length) return false;
        var hasExtension = (b0 & 0x10) != 0;
        if (hasExtension)
        {
            if (length + 4 > datagram.Length) return false;
            var words = BinaryPrimitives.ReadUInt16BigEndian(datagram.Slice(length + 2, 2));
            length += 4 + 4 * words;                              // at most 72 + 4 + 262140: no overflow
            if (length > datagram.Length) return false;
        }
        var padding = 0;
        if ((b0 & 0x20) != 0)
        {
            padding = datagram[^1];                               // the datagram is at least 12 bytes here
            if (padding == 0 || padding > datagram.Length - length) return false;
        }
        header = new RtpFixedHeader(
            Marker: (b1 & 0x80) != 0,
            PayloadType: (byte)(b1 & 0x7F),
            Sequence: BinaryPrimitives.ReadUInt16BigEndian(datagram.Slice(2, 2)),
            Timestamp: BinaryPrimitives.ReadUInt32BigEndian(datagram.Slice(4, 4)),
            Ssrc: BinaryPrimitives.ReadUInt32BigEndian(datagram.Slice(8, 4)),
            CsrcCount: csrcCount,
            HasExtension: hasExtension,
            HeaderLength: length,
            PaddingLength: padding);
        return true;
    }

    /// <summary>
    /// RTCP as the latch accepts it: version 2, second byte 192..223, header and sender SSRC present, and the first
    /// packet's length field fits in the datagram. The SSRC is not checked here.
    /// </summary>
    public static bool IsValidRtcp(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < 8) return false;
        if (datagram[0] >> 6 != 2 || !IsRtcpPacketType(datagram[1])) return false;
        var bytes = (BinaryPrimitives.ReadUInt16BigEndian(datagram.Slice(2, 2)) + 1) * 4; // at most 262144
        return bytes <= datagram.Length;
    }

    /// <summary>RFC 5761 §4: an RTP/RTCP-multiplexed packet whose second byte is 192..223 is RTCP.</summary>
    public static bool IsRtcpPacketType(byte secondByte) => secondByte is >= 192 and <= 223;

    /// <summary>How far <paramref name="sequence"/> is ahead of <paramref name="highest"/>, modulo 2^16 (0 = same, > 32768 = behind).</summary>
    public static int Ahead(ushort sequence, ushort highest) => (ushort)(sequence - highest);
}

using System.Buffers.Binary;

namespace ActorRelay.Latching;

public enum RtpKind : byte { NotRtp, Rtp, Rtcp }

/// <summary>
/// Classifies a datagram as RTP, RTCP or neither (RFC 7983 first-byte demultiplexing, version 2,
/// RFC 5761 RTP/RTCP multiplexing) and reads what latching needs: SSRC and sequence number.
/// Pure and allocation-free.
/// </summary>
public static class RtpHeader
{
    public static RtpKind Classify(ReadOnlySpan<byte> datagram, out uint ssrc, out ushort sequence)
    {
        ssrc = 0;
        sequence = 0;
        if (datagram.Length < 8) return RtpKind.NotRtp;
        var b0 = datagram[0];
        if (b0 < 128 || b0 > 191) return RtpKind.NotRtp;        // RFC 7983: 128..191 is RTP/RTCP; also version 2
        var b1 = datagram[1];
        if (b1 is >= 192 and <= 223)                              // RFC 5761: RTCP packet types 192..223
        {
            ssrc = BinaryPrimitives.ReadUInt32BigEndian(datagram.Slice(4, 4));
            return ssrc == 0 ? RtpKind.NotRtp : RtpKind.Rtcp;
        }
        if (datagram.Length < 12) return RtpKind.NotRtp;
        sequence = BinaryPrimitives.ReadUInt16BigEndian(datagram.Slice(2, 2));
        ssrc = BinaryPrimitives.ReadUInt32BigEndian(datagram.Slice(8, 4));
        return ssrc == 0 ? RtpKind.NotRtp : RtpKind.Rtp;          // SSRC 0: never latch (rtpproxy's rule)
    }

    /// <summary>How far <paramref name="sequence"/> is ahead of <paramref name="highest"/>, modulo 2^16 (0 = same, > 32768 = behind).</summary>
    public static int Ahead(ushort sequence, ushort highest) => (ushort)(sequence - highest);
}

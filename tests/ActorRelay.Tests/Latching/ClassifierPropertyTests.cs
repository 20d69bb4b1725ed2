using System.Buffers.Binary;
using ActorRelay.Latching;
using CsCheck;
using Xunit;

namespace ActorRelay.Tests.Latching;

/// <summary>
/// Properties of the packet classifiers over generated datagrams: they never throw, their answer depends only on
/// the bytes inside the span (so they cannot read past it), RTP is reported exactly when the whole header fits,
/// and every well-formed RTP packet is recognised with its SSRC and sequence number.
/// </summary>
public sealed class ClassifierPropertyTests
{
    /// <summary>Random datagrams, half of them starting with an RTP/RTCP first byte (128..191) so the deeper checks run.</summary>
    private static readonly Gen<byte[]> Datagrams =
        Gen.Select(Gen.Byte.Array[0, 96], Gen.Int[0, 3], Gen.Byte[128, 191], Gen.Byte, (bytes, bias, rtpFirst, second) =>
        {
            if (bytes.Length > 0 && bias >= 2) bytes[0] = rtpFirst;
            if (bytes.Length > 1 && bias == 3) bytes[1] = (byte)(second % 2 == 0 ? 200 + second % 8 : second & 0x7F);
            return bytes;
        });

    /// <summary>Where the RTP header ends per RFC 3550 §5.1/§5.3.1 and the padding rule, or null when it does not fit (written independently of RtpHeader).</summary>
    private static int? HeaderEndIfValid(byte[] d)
    {
        if (d.Length < 12 || (d[0] & 0xC0) != 0x80 || d[1] is >= 192 and <= 223) return null;
        long end = 12 + 4L * (d[0] & 0x0F);
        if ((d[0] & 0x10) != 0)
        {
            if (end + 4 > d.Length) return null;
            end += 4 + 4L * (d[end + 2] << 8 | d[end + 3]);
        }
        if (end > d.Length) return null;
        if ((d[0] & 0x20) != 0 && (d[^1] == 0 || end + d[^1] > d.Length)) return null;
        return (int)end;
    }

    [Fact]
    public void Arbitrary_bytes_never_throw_and_rtp_is_reported_only_when_the_header_fits()
    {
        Datagrams.Sample(d =>
        {
            var kind = RtpHeader.Classify(d, out var ssrc, out var seq);
            var end = HeaderEndIfValid(d);
            if (kind == RtpKind.Rtp)
            {
                Assert.NotNull(end);
                Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(8)), ssrc);
                Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)), seq);
                Assert.NotEqual(0u, ssrc);
            }
            else if (end is not null)
            {
                Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(8)));  // only SSRC 0 keeps valid RTP out
            }
            Assert.Equal(end is not null, RtpHeader.TryReadRtp(d, out var h));
            if (end is { } e) Assert.Equal(e, h.HeaderLength);
            if (kind == RtpKind.Rtcp)
            {
                Assert.True(d.Length >= 8 && d[1] is >= 192 and <= 223 && (d[0] & 0xC0) == 0x80);
                Assert.True((BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)) + 1) * 4 <= d.Length);
            }
            var demux = PacketDemux.Classify(d);
            Assert.Equal(end is not null, demux == PacketClass.Rtp);
            if (kind == RtpKind.Rtcp) Assert.Equal(PacketClass.Rtcp, demux);
        }, iter: 20_000);
    }

    [Fact]
    public void The_answer_depends_only_on_the_bytes_inside_the_span()
    {
        // The same datagram at the start of a larger buffer whose tail is random: a classifier that read past the
        // span would sometimes answer differently (a span read out of range would throw instead).
        Gen.Select(Datagrams, Gen.Byte.Array[1, 64]).Sample((d, tail) =>
        {
            var buffer = d.Concat(tail).ToArray();
            var span = buffer.AsSpan(0, d.Length);
            Assert.Equal(RtpHeader.Classify(d, out var s1, out var q1), RtpHeader.Classify(span, out var s2, out var q2));
            Assert.Equal((s1, q1), (s2, q2));
            Assert.Equal(PacketDemux.Classify(d), PacketDemux.Classify(span));
            Assert.Equal(RtpHeader.TryReadRtp(d, out var h1), RtpHeader.TryReadRtp(span, out var h2));
            Assert.Equal(h1, h2);
            Assert.Equal(RtpHeader.IsValidRtcp(d), RtpHeader.IsValidRtcp(span));
        }, iter: 10_000);
    }

    /// <summary>Well-formed RTP packets with every optional part: CSRCs, an extension, padding, the marker bit.</summary>
    public static readonly Gen<RtpPacketSpec> ValidRtp =
        Gen.Select(Gen.UShort, Gen.UInt[1, uint.MaxValue], Gen.UInt, Gen.Byte[0, 127], Gen.Bool, Gen.Int[0, 15], Gen.Int[-1, 40], Gen.Int[0, 300])
           .Select(Gen.Int[0, 255], Gen.Byte, (t, padding, fill) =>
           {
               var (seq, ssrc, ts, pt, marker, csrcs, ext, payload) = t;
               if (marker && pt is >= 64 and <= 95) pt -= 32;   // keep the second byte out of RTCP's 192..223
               return new RtpPacketSpec(seq, ssrc, ts, pt, marker, csrcs, ext < 0 ? null : ext, payload, padding, fill);
           });

    [Fact]
    public void Generated_valid_rtp_is_always_recognised_with_its_ssrc_and_sequence()
    {
        ValidRtp.Sample(spec =>
        {
            var p = spec.Build();
            Assert.Equal(RtpKind.Rtp, RtpHeader.Classify(p, out var ssrc, out var seq));
            Assert.Equal(spec.Ssrc, ssrc);
            Assert.Equal(spec.Sequence, seq);
            Assert.True(RtpHeader.TryReadRtp(p, out var h));
            Assert.Equal(new RtpFixedHeader(spec.Marker, spec.PayloadType, spec.Sequence, spec.Timestamp, spec.Ssrc,
                spec.CsrcCount, spec.ExtensionWords is not null, spec.HeaderLength, spec.Padding), h);
            Assert.Equal(spec.PayloadLength, h.PayloadLength(p.Length));
            Assert.Equal(PacketClass.Rtp, PacketDemux.Classify(p));
        }, iter: 5_000);
    }

    [Fact]
    public void Valid_rtp_cut_inside_its_header_is_never_rtp()
    {
        Gen.Select(ValidRtp, Gen.Double[0, 1]).Sample((spec, where) =>
        {
            var p = spec.Build();
            var cut = (int)(where * spec.HeaderLength);                 // 0 .. HeaderLength - 1
            if (cut >= spec.HeaderLength) cut = spec.HeaderLength - 1;
            var truncated = p[..cut];
            Assert.NotEqual(RtpKind.Rtp, RtpHeader.Classify(truncated, out _, out _));
            Assert.False(RtpHeader.TryReadRtp(truncated, out _));
        }, iter: 5_000);
    }
}

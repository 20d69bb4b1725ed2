using System.Buffers.Binary;
using ActorRelay.Latching;
using Xunit;

namespace ActorRelay.Tests.Latching;

/// <summary>RtpHeader's validity rules on hand-made packets: what fits is RTP/RTCP, what points past the end is not.</summary>
public sealed class RtpHeaderTests
{
    private const uint Ssrc = 0x0A0B0C0D;

    private static RtpKind Kind(byte[] datagram) => RtpHeader.Classify(datagram, out _, out _);

    [Fact]
    public void A_plain_packet_is_rtp_with_its_ssrc_and_sequence()
    {
        var p = new RtpPacketSpec(4242, Ssrc, Timestamp: 160, PayloadType: 8, Marker: true).Build();
        Assert.Equal(RtpKind.Rtp, RtpHeader.Classify(p, out var ssrc, out var seq));
        Assert.Equal(Ssrc, ssrc);
        Assert.Equal(4242, seq);
        Assert.True(RtpHeader.TryReadRtp(p, out var h));
        Assert.Equal(new RtpFixedHeader(true, 8, 4242, 160, Ssrc, 0, false, 12, 0), h);
        Assert.Equal(160, h.PayloadLength(p.Length));
    }

    [Fact]
    public void A_header_of_exactly_twelve_bytes_and_no_payload_is_rtp()
    {
        var p = new RtpPacketSpec(1, Ssrc, PayloadLength: 0).Build();
        Assert.Equal(12, p.Length);
        Assert.Equal(RtpKind.Rtp, Kind(p));
    }

    [Theory]
    [InlineData(1, 15, 0)]     // CSRCs end exactly at the end of the datagram
    [InlineData(15, 0, 0)]
    [InlineData(3, 7, 16)]
    public void Csrcs_extension_and_padding_that_fit_are_rtp(int csrcs, int extensionWords, int padding)
    {
        var spec = new RtpPacketSpec(7, Ssrc, CsrcCount: csrcs, ExtensionWords: extensionWords, PayloadLength: 0, Padding: padding);
        var p = spec.Build();
        Assert.Equal(RtpKind.Rtp, Kind(p));
        Assert.True(RtpHeader.TryReadRtp(p, out var h));
        Assert.Equal(spec.HeaderLength, h.HeaderLength);
        Assert.Equal(padding, h.PaddingLength);
        Assert.Equal(0, h.PayloadLength(p.Length));
    }

    [Fact]
    public void A_csrc_count_that_points_past_the_end_is_not_rtp()
    {
        var p = new RtpPacketSpec(7, Ssrc, PayloadLength: 8).Build();  // 20 bytes
        p[0] = 0x80 | 2;                                                // two CSRCs: exactly 20 bytes, fits
        Assert.Equal(RtpKind.Rtp, Kind(p));
        p[0] = 0x80 | 3;                                                // three CSRCs: 24 bytes > 20
        Assert.Equal(RtpKind.NotRtp, Kind(p));
        p[0] = 0x80 | 15;
        Assert.Equal(RtpKind.NotRtp, Kind(p));
    }

    [Fact]
    public void An_extension_whose_length_points_past_the_end_is_not_rtp()
    {
        var p = new RtpPacketSpec(7, Ssrc, ExtensionWords: 2, PayloadLength: 0).Build(); // 12 + 4 + 8 = 24 bytes
        Assert.Equal(RtpKind.Rtp, Kind(p));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(14), 3);                           // 12 + 4 + 12 = 28 > 24
        Assert.Equal(RtpKind.NotRtp, Kind(p));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(14), 0xFFFF);
        Assert.Equal(RtpKind.NotRtp, Kind(p));
    }

    [Fact]
    public void An_extension_bit_without_room_for_the_extension_header_is_not_rtp()
    {
        var p = new RtpPacketSpec(7, Ssrc, PayloadLength: 3).Build(); // 15 bytes: no room for the 4-byte extension header
        p[0] |= 0x10;
        Assert.Equal(RtpKind.NotRtp, Kind(p));
        Assert.Equal(RtpKind.NotRtp, Kind(p[..12]));
    }

    [Fact]
    public void Padding_must_be_at_least_one_byte_and_fit_after_the_header()
    {
        var p = new RtpPacketSpec(7, Ssrc, PayloadLength: 10, Padding: 4).Build(); // 26 bytes, 4 of padding
        Assert.Equal(RtpKind.Rtp, Kind(p));
        p[^1] = 0;                                                                  // a zero padding count
        Assert.Equal(RtpKind.NotRtp, Kind(p));
        p[^1] = 14;                                                                 // payload 10 + padding 4: all after the header
        Assert.Equal(RtpKind.Rtp, Kind(p));
        p[^1] = 15;                                                                 // one byte into the header
        Assert.Equal(RtpKind.NotRtp, Kind(p));
        p[^1] = 255;
        Assert.Equal(RtpKind.NotRtp, Kind(p));
    }

    [Theory]
    [InlineData(0x00)]  // version 0
    [InlineData(0x40)]  // version 1
    [InlineData(0xC0)]  // version 3
    public void Other_versions_are_not_rtp(byte first)
    {
        var p = RtpPackets.Rtp(1, Ssrc);
        p[0] = first;
        Assert.Equal(RtpKind.NotRtp, Kind(p));
        Assert.False(RtpHeader.TryReadRtp(p, out _));
    }

    [Fact]
    public void Ssrc_zero_is_structurally_rtp_but_never_classified_as_rtp()
    {
        var p = RtpPackets.Rtp(1, 0);
        Assert.True(RtpHeader.TryReadRtp(p, out _));
        Assert.Equal(RtpKind.NotRtp, Kind(p));
    }

    /// <summary>A receiver report built by hand: V=2, RC=1, PT=201, length 7, one report block.</summary>
    public static readonly byte[] ReceiverReport = Convert.FromHexString(
        "81c90007" + "5ee2f7b1" +                         // header, reporter SSRC
        "3a4e1c77" + "02000005" + "0000a1f3" + "00000027" + "00000000" + "00000000");

    [Fact]
    public void Rtcp_is_classified_by_its_packet_type_with_the_sender_ssrc()
    {
        Assert.Equal(RtpKind.Rtcp, RtpHeader.Classify(ReceiverReport, out var ssrc, out var seq));
        Assert.Equal(0x5ee2f7b1u, ssrc);
        Assert.Equal(0, seq);
    }

    [Fact]
    public void Rtcp_whose_first_length_points_past_the_end_is_not_rtcp()
    {
        var p = (byte[])ReceiverReport.Clone();                  // 32 bytes, length 7 = 32 bytes
        Assert.Equal(RtpKind.Rtcp, Kind(p[..32]));
        Assert.Equal(RtpKind.NotRtp, Kind(p[..31]));                     // the report block is cut short
        p[3] = 8;                                                        // claims 36 bytes
        Assert.Equal(RtpKind.NotRtp, Kind(p));
        p[2] = 0xFF; p[3] = 0xFF;
        Assert.Equal(RtpKind.NotRtp, Kind(p));
    }

    [Fact]
    public void Rtcp_followed_by_more_bytes_is_still_rtcp()
    {
        // A compound whose later part is opaque (an SRTCP trailer, or a second packet): only the first length is checked.
        var p = ReceiverReport.Concat(new byte[14]).ToArray();
        Assert.Equal(RtpKind.Rtcp, Kind(p));
    }

    [Fact]
    public void Rtcp_of_another_version_or_shorter_than_eight_bytes_is_not_rtcp()
    {
        var p = (byte[])ReceiverReport.Clone();
        p[0] = 0x41;
        Assert.Equal(RtpKind.NotRtp, Kind(p));
        Assert.Equal(RtpKind.NotRtp, Kind(ReceiverReport[..7]));
    }
}

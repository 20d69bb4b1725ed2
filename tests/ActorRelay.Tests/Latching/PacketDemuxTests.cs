using System.Buffers.Binary;
using ActorRelay.Latching;
using CsCheck;
using Xunit;

namespace ActorRelay.Tests.Latching;

/// <summary>RFC 7983 first-byte demultiplexing with each class's header check.</summary>
public sealed class PacketDemuxTests
{
    /// <summary>A STUN Binding Request (RFC 5389 §6): type 0x0001, length 8, cookie, transaction id, one 8-byte attribute.</summary>
    private static byte[] StunBindingRequest()
    {
        var p = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(p, 0x0001);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 8);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), PacketDemux.StunMagicCookie);
        for (var i = 8; i < 20; i++) p[i] = (byte)i;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), 0x0006);     // USERNAME
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), 4);
        "ab:c"u8.CopyTo(p.AsSpan(24));
        return p;
    }

    [Fact]
    public void An_empty_datagram_is_empty()
    {
        Assert.Equal(PacketClass.Empty, PacketDemux.Classify(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void Stun_needs_the_magic_cookie_and_a_length_that_fits()
    {
        var p = StunBindingRequest();
        Assert.Equal(PacketClass.Stun, PacketDemux.Classify(p));
        Assert.Equal(PacketClass.Stun, PacketDemux.Classify(p.Concat(new byte[4]).ToArray()));  // trailing bytes tolerated
        Assert.Equal(PacketClass.Other, PacketDemux.Classify(p[..27]));                          // attribute cut short
        Assert.Equal(PacketClass.Other, PacketDemux.Classify(p[..19]));                          // header cut short

        var noCookie = (byte[])p.Clone();
        noCookie[4] ^= 0xFF;                                                                     // RFC 3489-style, no cookie
        Assert.Equal(PacketClass.Other, PacketDemux.Classify(noCookie));

        var oddLength = (byte[])p.Clone();
        oddLength[3] = 6;                                                                        // not a multiple of 4
        Assert.Equal(PacketClass.Other, PacketDemux.Classify(oddLength));

        var response = (byte[])p.Clone();
        response[0] = 0x01; response[1] = 0x01;                                                  // Binding Success Response
        Assert.Equal(PacketClass.Stun, PacketDemux.Classify(response));
    }

    [Theory]
    [InlineData(16, PacketClass.Zrtp)]
    [InlineData(19, PacketClass.Zrtp)]
    [InlineData(20, PacketClass.Dtls)]
    [InlineData(22, PacketClass.Dtls)]   // a DTLS handshake record
    [InlineData(63, PacketClass.Dtls)]
    [InlineData(4, PacketClass.Other)]
    [InlineData(15, PacketClass.Other)]
    [InlineData(80, PacketClass.Other)]
    [InlineData(127, PacketClass.Other)]
    [InlineData(192, PacketClass.Other)]
    [InlineData(255, PacketClass.Other)]
    public void The_first_byte_decides_the_other_classes(byte first, PacketClass expected)
    {
        var p = new byte[40];
        p[0] = first;
        Assert.Equal(expected, PacketDemux.Classify(p));
        Assert.Equal(expected, PacketDemux.Classify(p.AsSpan(0, 1)));
    }

    [Fact]
    public void Turn_channel_data_needs_a_length_that_fits()
    {
        var p = new byte[4 + 12];
        BinaryPrimitives.WriteUInt16BigEndian(p, 0x4001);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 12);
        Assert.Equal(PacketClass.TurnChannel, PacketDemux.Classify(p));
        Assert.Equal(PacketClass.Other, PacketDemux.Classify(p[..15]));
        Assert.Equal(PacketClass.Other, PacketDemux.Classify(p[..3]));
        p[0] = 0x4F;
        Assert.Equal(PacketClass.TurnChannel, PacketDemux.Classify(p));
    }

    [Fact]
    public void Rtp_and_rtcp_use_the_rtp_header_checks()
    {
        Assert.Equal(PacketClass.Rtp, PacketDemux.Classify(RtpPackets.Rtp(1, 0x1234)));
        Assert.Equal(PacketClass.Rtp, PacketDemux.Classify(RtpPackets.Rtp(1, 0)));                // SSRC 0 is still RTP here
        Assert.Equal(PacketClass.Rtcp, PacketDemux.Classify(RtpHeaderTests.ReceiverReport));
        Assert.Equal(PacketClass.Other, PacketDemux.Classify(RtpHeaderTests.ReceiverReport[..20])); // length past the end
        var badCsrc = RtpPackets.Rtp(1, 0x1234, payload: 0);
        badCsrc[0] |= 0x01;
        Assert.Equal(PacketClass.Other, PacketDemux.Classify(badCsrc));
        Assert.Equal(PacketClass.Other, PacketDemux.Classify(new byte[] { 0x80 }));
    }

    [Fact]
    public void Every_first_byte_and_length_is_classified_without_throwing()
    {
        Gen.Byte.Array[0, 64].Sample(d =>
        {
            var c = PacketDemux.Classify(d);
            Assert.True(Enum.IsDefined(c));
            if (d.Length == 0) Assert.Equal(PacketClass.Empty, c);
            else if (d[0] is >= 16 and <= 19) Assert.Equal(PacketClass.Zrtp, c);
            else if (d[0] is >= 20 and <= 63) Assert.Equal(PacketClass.Dtls, c);
            else if (d[0] is (>= 4 and <= 15) or (>= 80 and <= 127) or >= 192) Assert.Equal(PacketClass.Other, c);
        }, iter: 10_000);
    }
}

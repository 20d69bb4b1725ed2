using System.Buffers.Binary;
using ActorRelay.Quality;
using ActorRelay.Tests.Latching;
using CsCheck;
using Xunit;

namespace ActorRelay.Tests.Quality;

/// <summary>
/// RTCP report blocks (RFC 3550 §6.4) read from captured datagrams and hand-made ones, and kept per reported SSRC.
/// The captured datagrams come from two GStreamer rtpbin pipelines on loopback (PCMU at 8 kHz, the sender's pipeline
/// dropping 5 % of its RTP): the receiver's compound RR + SDES about SSRC 0x023b8065, and the sender's SR + SDES.
/// </summary>
public sealed class RtcpReportTests
{
    /// <summary>RR (1 block: fraction 0, cumulative −1, ext. highest 22248, jitter 1, LSR, DLSR 151 ms) + SDES CNAME.</summary>
    public static readonly byte[] CapturedRr1 = Convert.FromHexString(
        "81c90007b558fb89023b806500ffffff000056e800000001fff0aa83000026bb" +
        "81ca000cb558fb89011c757365723135393530303332393040686f73742d326264383134366206094753747265616d6572000000");

    /// <summary>The next RR of the same session, 6 s later: fraction 10/256, cumulative 1, ext. highest 22295, DLSR 94 ms.</summary>
    public static readonly byte[] CapturedRr2 = Convert.FromHexString(
        "81c90007b558fb89023b80650a0000010000571700000001fff6c4cf00001827" +
        "81ca000cb558fb89011c757365723135393530303332393040686f73742d326264383134366206094753747265616d6572000000");

    /// <summary>The sender's SR (no report blocks: it receives nothing) + SDES CNAME.</summary>
    public static readonly byte[] CapturedSr = Convert.FromHexString(
        "80c80006023b8065eeb6fff0aa834d2602da691d0000000c00003000" +
        "81ca000c023b8065011b757365723333323036383031373840686f73742d3331316132616106094753747265616d657200000000");

    private static List<RtcpReportBlock> Blocks(ReadOnlySpan<byte> datagram)
    {
        var list = new List<RtcpReportBlock>();
        var reader = new RtcpReportReader(datagram);
        while (reader.TryNext(out var b)) list.Add(b);
        return list;
    }

    [Fact]
    public void Reads_the_report_block_of_a_captured_receiver_report()
    {
        Assert.True(RtcpReportReader.IsValid(CapturedRr2));
        var b = Assert.Single(Blocks(CapturedRr2));
        Assert.Equal(new RtcpReportBlock(0xb558fb89, 0x023b8065, 10, 1, 22295, 1, 0xfff6c4cf, 0x1827), b);
        Assert.Equal(10 / 256.0, b.FractionLostRatio);
    }

    [Fact]
    public void A_negative_cumulative_loss_is_sign_extended()
    {
        var b = Assert.Single(Blocks(CapturedRr1));
        Assert.Equal(-1, b.CumulativeLost);
        Assert.Equal(0, b.FractionLost);
        Assert.Equal(22248u, b.ExtendedHighestSequence);
        // the RR answers the captured SR: its LSR is the middle 32 bits of that SR's NTP timestamp
        Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(CapturedSr.AsSpan(10)), b.LastSenderReport);
    }

    [Fact]
    public void A_sender_report_without_blocks_is_valid_and_yields_none()
    {
        Assert.True(RtcpReportReader.IsValid(CapturedSr));
        Assert.Empty(Blocks(CapturedSr));
    }

    /// <summary>An SR with sender info and two report blocks, followed by an RR with one: built by hand.</summary>
    private static byte[] SrWithTwoBlocksThenRr()
    {
        var sr = new byte[28 + 2 * 24];
        sr[0] = 0x82; sr[1] = 200;
        BinaryPrimitives.WriteUInt16BigEndian(sr.AsSpan(2), (ushort)(sr.Length / 4 - 1));
        BinaryPrimitives.WriteUInt32BigEndian(sr.AsSpan(4), 0x1000);
        for (var i = 8; i < 28; i++) sr[i] = 0xEE;                            // sender info: never read as a block
        for (var k = 0; k < 2; k++)
        {
            var blk = sr.AsSpan(28 + 24 * k);
            BinaryPrimitives.WriteUInt32BigEndian(blk, 0x2000u + (uint)k);
            blk[4] = (byte)(64 * (k + 1));
            blk[5] = 0x00; blk[6] = 0x01; blk[7] = (byte)(k + 2);             // cumulative 256 + k + 2
            BinaryPrimitives.WriteUInt32BigEndian(blk[8..], 0x0001_0005u);    // one cycle, highest 5
            BinaryPrimitives.WriteUInt32BigEndian(blk[12..], 480u * (uint)(k + 1));
        }
        var rr = new byte[8 + 24];
        rr[0] = 0x81; rr[1] = 201;
        BinaryPrimitives.WriteUInt16BigEndian(rr.AsSpan(2), 7);
        BinaryPrimitives.WriteUInt32BigEndian(rr.AsSpan(4), 0x3000);
        BinaryPrimitives.WriteUInt32BigEndian(rr.AsSpan(8), 0x4000);
        return sr.Concat(rr).ToArray();
    }

    [Fact]
    public void Reads_every_block_of_every_report_in_a_compound()
    {
        var blocks = Blocks(SrWithTwoBlocksThenRr());
        Assert.Equal(3, blocks.Count);
        Assert.Equal(new RtcpReportBlock(0x1000, 0x2000, 64, 258, 0x10005, 480, 0, 0), blocks[0]);
        Assert.Equal(new RtcpReportBlock(0x1000, 0x2001, 128, 259, 0x10005, 960, 0, 0), blocks[1]);
        Assert.Equal((0x3000u, 0x4000u), (blocks[2].ReporterSsrc, blocks[2].SourceSsrc));
    }

    [Fact]
    public void A_compound_whose_lengths_do_not_add_up_yields_nothing()
    {
        var srtcpLike = CapturedRr2.Concat(new byte[] { 0x80, 0, 0, 1 }).Concat(new byte[10]).ToArray(); // index + tag
        Assert.False(RtcpReportReader.IsValid(srtcpLike));
        Assert.Empty(Blocks(srtcpLike));
        Assert.Empty(Blocks(CapturedRr2[..^4]));                      // SDES cut short
        Assert.Empty(Blocks(CapturedRr2[..20]));                      // the RR itself cut short
        Assert.Empty(Blocks(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void A_report_count_larger_than_its_packet_yields_nothing()
    {
        var p = (byte[])CapturedRr2.Clone();
        p[0] = 0x82;                                                   // two blocks announced, one present
        Assert.False(RtcpReportReader.IsValid(p));
        Assert.Empty(Blocks(p));
    }

    [Fact]
    public void Padding_is_allowed_on_the_last_packet_only()
    {
        var p = (byte[])CapturedRr2.Clone();
        p[0] |= 0x20;                                                  // padding on the first of two packets
        Assert.False(RtcpReportReader.IsValid(p));

        var last = (byte[])CapturedRr2.Clone();
        last[32] |= 0x20;                                              // on the SDES: its last byte (0) is no count
        Assert.False(RtcpReportReader.IsValid(last));
        last[^1] = 3;                                                  // three bytes of padding (they were zeros)
        Assert.True(RtcpReportReader.IsValid(last));
        Assert.Single(Blocks(last));
    }

    [Fact]
    public void Another_version_or_a_non_rtcp_packet_type_yields_nothing()
    {
        var p = (byte[])CapturedRr2.Clone();
        p[32] = 0x41;                                                  // SDES with version 1
        Assert.Empty(Blocks(p));
        Assert.Empty(Blocks(RtpPackets.Rtp(1, 0x1234)));
    }

    [Fact]
    public void The_stream_stats_keep_the_latest_report_per_source_with_its_jitter_in_seconds()
    {
        var toward = new RtpStreamStats();                            // the side whose client sends the RR
        Assert.Equal(1, toward.OnRtcp(CapturedRr1, 1_000_000));
        Assert.Equal(1, toward.OnRtcp(CapturedRr2, 7_000_000));
        var r = Assert.Single(toward.Snapshot().Reports);
        Assert.Equal((0xb558fb89u, 0x023b8065u, 10 / 256.0, 1L, 22295u, 1u), (r.ReporterSsrc, r.SourceSsrc, r.FractionLost, r.CumulativeLost, r.ExtendedHighestSequence, r.JitterUnits));
        Assert.Equal((7_000_000L, 2L), (r.ArrivalMicros, r.ReportsSeen));
        Assert.Equal((8000, true, 1 / 8000.0), (r.ClockRate, r.ClockRateAssumed, r.JitterSeconds)); // nothing known: assumed
    }

    [Fact]
    public void The_reported_jitter_uses_the_clock_rate_of_the_stream_reported_on()
    {
        var reporterSide = new RtpStreamStats();
        var reportedSide = new RtpStreamStats();
        reportedSide.Formats.Register(96, 48000, "opus");
        reportedSide.OnRtp(RtpPackets.Rtp(1, 0x023b8065, 0, pt: 96), 0);
        reportedSide.OnRtp(RtpPackets.Rtp(2, 0x023b8065, 960, pt: 96), 20_000);
        reporterSide.ReportsAbout(reportedSide);
        reporterSide.OnRtcp(CapturedRr2, 0);
        var r = Assert.Single(reporterSide.Snapshot().Reports);
        Assert.Equal((48000, false, 1 / 48000.0), (r.ClockRate, r.ClockRateAssumed, r.JitterSeconds));

        var alone = new RtpStreamStats();                             // without a link: its own stream's rate (PCMU)
        alone.OnRtp(RtpPackets.Rtp(1, 7, 0), 0);
        alone.OnRtp(RtpPackets.Rtp(2, 7, 160), 20_000);
        alone.OnRtcp(CapturedRr2, 0);
        Assert.Equal((8000, false), (alone.Snapshot().Reports[0].ClockRate, alone.Snapshot().Reports[0].ClockRateAssumed));
    }

    [Fact]
    public void At_most_four_sources_are_kept_the_least_recently_reported_one_is_replaced()
    {
        var s = new RtpStreamStats();
        for (var k = 0; k < 6; k++)
        {
            var p = (byte[])CapturedRr2.Clone();
            BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), 0x100u + (uint)k);
            s.OnRtcp(p, 1000 * k);
        }
        var sources = s.Snapshot().Reports.Select(r => r.SourceSsrc).Order().ToArray();
        Assert.Equal(new uint[] { 0x102, 0x103, 0x104, 0x105 }, sources);
    }

    [Fact]
    public void Arbitrary_bytes_never_throw_and_blocks_come_only_from_valid_compounds()
    {
        // Random compounds: valid-looking headers half of the time, random lengths and counts.
        var gen = Gen.Select(Gen.Byte.Array[0, 120], Gen.Bool, (bytes, shape) =>
        {
            if (shape && bytes.Length >= 4) { bytes[0] = (byte)(0x80 | (bytes[0] & 0x3F)); bytes[1] = (byte)(200 + bytes[1] % 2); }
            return bytes;
        });
        gen.Sample(d =>
        {
            var blocks = Blocks(d);
            if (!RtcpReportReader.IsValid(d)) Assert.Empty(blocks);
            Assert.True(blocks.Count * 24 <= d.Length);
            var s = new RtpStreamStats();
            Assert.Equal(blocks.Count, s.OnRtcp(d, 0));
            s.OnRtp(d, 0);
            _ = s.Snapshot();
        }, iter: 20_000);
    }
}

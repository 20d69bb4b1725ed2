using ActorRelay.Quality;
using ActorRelay.Tests.Latching;
using Xunit;

namespace ActorRelay.Tests.Quality;

/// <summary>RFC 3550 A.8 interarrival jitter on known arrival patterns, clock rates, and timestamp jumps.</summary>
public sealed class RtpJitterTests
{
    private const uint Ssrc = 0x51515151;

    /// <summary>Sends seq 1.. with the given RTP timestamps and arrival times (ms), payload type <paramref name="pt"/>.</summary>
    private static RtpStreamStats Stream(uint[] timestamps, double[] arrivalsMs, byte pt = 0, bool[]? markers = null, RtpStreamStats? into = null)
    {
        var s = into ?? new RtpStreamStats();
        for (var i = 0; i < timestamps.Length; i++)
            s.OnRtp(RtpPackets.Rtp((ushort)(1 + i), Ssrc, timestamps[i], pt, markers?[i] ?? false), (long)(arrivalsMs[i] * 1000));
        return s;
    }

    private static uint[] Steps(int count, uint step, uint from = 0) => Enumerable.Range(0, count).Select(i => from + (uint)i * step).ToArray();

    [Fact]
    public void Perfectly_paced_packets_have_no_jitter()
    {
        var q = Stream(Steps(50, 160), Enumerable.Range(0, 50).Select(i => 20.0 * i).ToArray()).Snapshot();
        Assert.Equal(0, q.JitterSeconds);
        Assert.Equal((8000, false, 0), (q.ClockRate, q.ClockRateAssumed, q.PayloadType));
    }

    [Fact]
    public void Jitter_on_a_known_arrival_pattern()
    {
        // PCMU, 20 ms = 160 timestamp units. Packet 1 is in probation and packet 2 is the first reference, so the
        // estimate starts with packet 3. D = (Rj − Ri) − (Sj − Si) in ms, J += (|D| − J) / 16:
        //   p3: arrives 45 (25 after p2), sent 20 later: D = 5    J = 5/16                  = 0.3125
        //   p4: arrives 60 (15 after),               D = −5   J = 0.3125 + (5 − 0.3125)/16  = 0.60546875
        //   p5: arrives 80 (20 after),               D = 0    J = 0.60546875 × 15/16       = 0.567626953125
        //   p6: arrives 110 (30 after),              D = 10   J = 0.567626953125 + (10 − 0.567626953125)/16
        //                                                       = 1.1571502685546875 ms
        var q = Stream(Steps(6, 160), [0, 20, 45, 60, 80, 110]).Snapshot();
        Assert.Equal(1.1571502685546875e-3, q.JitterSeconds, 15);
    }

    [Fact]
    public void Reordered_packets_feed_the_jitter_in_arrival_order()
    {
        // seq 1, 2, 4, 3 with timestamps 0, 160, 480, 320, arriving at 0, 20, 40, 45 ms:
        //   p4 (ts 480): 20 ms after p2, sent 40 ms later: D = −20  J = 20/16 = 1.25
        //   p3 (ts 320): 5 ms after p4, sent 20 ms earlier: D = 25  J = 1.25 + (25 − 1.25)/16 = 2.734375 ms
        var s = new RtpStreamStats();
        s.OnRtp(RtpPackets.Rtp(1, Ssrc, 0), 0);
        s.OnRtp(RtpPackets.Rtp(2, Ssrc, 160), 20_000);
        s.OnRtp(RtpPackets.Rtp(4, Ssrc, 480), 40_000);
        Assert.Equal(RtpPacketVerdict.Reordered, s.OnRtp(RtpPackets.Rtp(3, Ssrc, 320), 45_000));
        Assert.Equal(2.734375e-3, s.Snapshot().JitterSeconds, 15);
    }

    [Fact]
    public void Duplicates_do_not_feed_the_jitter()
    {
        var s = Stream(Steps(3, 160), [0, 20, 40]);
        s.OnRtp(RtpPackets.Rtp(3, Ssrc, 320), 300_000);   // the same packet again, 260 ms later
        Assert.Equal(0, s.Snapshot().JitterSeconds);
    }

    [Fact]
    public void A_dynamic_payload_type_uses_its_registered_clock_rate()
    {
        // Opus: 20 ms = 960 units at 48 kHz. One packet 5 ms late: D = 5 ms, J = 5/16 ms, whatever the rate.
        var s = new RtpStreamStats();
        Assert.True(s.Formats.TryRegisterRtpmap("111 opus/48000/2"));
        var q = Stream(Steps(3, 960), [0, 20, 45], pt: 111, into: s).Snapshot();
        Assert.Equal((48000, false, 111), (q.ClockRate, q.ClockRateAssumed, q.PayloadType));
        Assert.Equal(0.3125e-3, q.JitterSeconds, 15);
    }

    [Fact]
    public void An_unknown_payload_type_is_taken_as_8_khz_and_says_so()
    {
        // The same Opus stream without its rtpmap: 960 units read as 120 ms, so D = 25 − 120 = −95 ms.
        var q = Stream(Steps(3, 960), [0, 20, 45], pt: 111).Snapshot();
        Assert.Equal((8000, true), (q.ClockRate, q.ClockRateAssumed));
        Assert.Equal(95e-3 / 16, q.JitterSeconds, 15);
    }

    [Theory]
    [InlineData(0, 8000)]
    [InlineData(8, 8000)]
    [InlineData(9, 8000)]     // G.722's RTP clock is 8000 (RFC 3551 §4.5.2)
    [InlineData(6, 16000)]
    [InlineData(10, 44100)]
    [InlineData(16, 11025)]
    [InlineData(31, 90000)]
    [InlineData(34, 90000)]
    [InlineData(2, 0)]        // reserved
    [InlineData(96, 0)]       // dynamic
    public void Static_payload_types_have_their_rfc_3551_rates(byte pt, int rate)
    {
        Assert.Equal(rate, PayloadFormats.StaticClockRate(pt));
        Assert.Equal(rate, new PayloadFormats().Lookup(pt).ClockRate);
    }

    [Theory]
    [InlineData("")]
    [InlineData("96")]
    [InlineData("96 opus")]
    [InlineData("96 opus/")]
    [InlineData("96 /48000")]
    [InlineData("128 opus/48000")]
    [InlineData("x opus/48000")]
    [InlineData("96 opus/0")]
    [InlineData("96 opus/-8000")]
    [InlineData("96 opus/99999999999")]
    public void An_rtpmap_that_does_not_parse_registers_nothing(string rtpmap)
    {
        var f = new PayloadFormats();
        Assert.False(f.TryRegisterRtpmap(rtpmap));
        Assert.Equal(0, f.Lookup(96).ClockRate);
    }

    [Fact]
    public void A_timestamp_jump_without_a_marker_is_counted_and_does_not_blow_up_the_jitter()
    {
        // p3 is 5 ms late (J = 0.3125 ms); p4's timestamp jumps 10 s ahead while it arrives on time (a PBX switching
        // its source under one SSRC): |D| ≈ 10 s > 1 s, so J stays and the reference moves to p4; p5 is on time.
        var ts = new uint[] { 0, 160, 320, 480 + 80_000, 640 + 80_000 };
        var q = Stream(ts, [0, 20, 45, 60, 80]).Snapshot();
        Assert.Equal(1, q.TimestampJumps);
        // p5 after p4: D = 0, J = 0.3125 × 15/16
        Assert.Equal(0.3125e-3 * 15 / 16, q.JitterSeconds, 15);
    }

    [Fact]
    public void A_marker_bit_starts_a_new_talk_spurt_without_updating_the_jitter()
    {
        // After 400 ms of silence the sender did not advance its timestamp (some do): p4 arrives 420 ms after p3
        // but is stamped 20 ms after it. With the marker bit it only re-bases; p5 is on time after it.
        var ts = Steps(5, 160);
        var q = Stream(ts, [0, 20, 45, 465, 485], markers: [false, false, false, true, false]).Snapshot();
        Assert.Equal(0, q.TimestampJumps);
        Assert.Equal(0.3125e-3 * 15 / 16, q.JitterSeconds, 15);
    }

    [Fact]
    public void Telephone_events_repeat_their_timestamp_and_never_feed_the_jitter()
    {
        var s = new RtpStreamStats();
        s.Formats.Register(101, 8000, "telephone-event");
        Stream(Steps(3, 160), [0, 20, 40], into: s);
        for (var i = 0; i < 5; i++)   // one event, five packets 50 ms apart, all stamped with the event's start
            s.OnRtp(RtpPackets.Rtp((ushort)(4 + i), Ssrc, 480, pt: 101, marker: i == 0), 60_000 + 50_000L * i);
        s.OnRtp(RtpPackets.Rtp(9, Ssrc, 320 + 260 * 8, pt: 0), 300_000); // audio again, 260 ms after p3 and stamped so
        var q = s.Snapshot();
        Assert.Equal(0, q.JitterSeconds);
        Assert.Equal((0, 8L, 8L), (q.PayloadType, q.PacketsExpected, q.PacketsReceived));
    }

    [Fact]
    public void A_new_ssrc_starts_its_jitter_afresh()
    {
        var s = Stream(Steps(6, 160), [0, 20, 45, 60, 80, 110]);
        Assert.True(s.Snapshot().JitterSeconds > 0);
        s.OnRtp(RtpPackets.Rtp(500, 0x99, 7777), 200_000);
        s.OnRtp(RtpPackets.Rtp(501, 0x99, 7777 + 160), 220_000);
        s.OnRtp(RtpPackets.Rtp(502, 0x99, 7777 + 320), 240_000);
        var q = s.Snapshot();
        Assert.Equal((0x99u, 1L, 0.0), (q.Ssrc, q.SsrcChanges, q.JitterSeconds));
    }
}

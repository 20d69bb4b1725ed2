using ActorRelay.Quality;
using ActorRelay.Tests.Latching;
using Xunit;

namespace ActorRelay.Tests.Quality;

/// <summary>RFC 3550 A.1/A.3 sequence accounting on worked examples (20 ms PCMU packets, arrival times in µs).</summary>
public sealed class RtpSequenceTests
{
    private const uint A = 0xAAAA0001, B = 0xBBBB0002;

    private static RtpPacketVerdict Send(RtpStreamStats s, ushort seq, uint ssrc = A) =>
        s.OnRtp(RtpPackets.Rtp(seq, ssrc, timestamp: seq * 160u), seq * 20_000L);

    private static RtpStreamStats Sent(params int[] seqs)
    {
        var s = new RtpStreamStats();
        foreach (var q in seqs) Send(s, (ushort)q);
        return s;
    }

    private static int[] Range(int from, int count) => Enumerable.Range(from, count).ToArray();

    [Fact]
    public void Before_any_packet_the_snapshot_is_empty()
    {
        var q = new RtpStreamStats().Snapshot();
        Assert.False(q.HasStream);
        Assert.Equal((0L, 0L, 0L, 0.0), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost, q.LossRatio));
        Assert.True(q.Consistent);
        Assert.Empty(q.Reports);
    }

    [Fact]
    public void A_stream_counts_from_the_second_packet_in_sequence()
    {
        var s = new RtpStreamStats();
        Assert.Equal(RtpPacketVerdict.Probation, Send(s, 1));
        Assert.False(s.Snapshot().HasStream);
        Assert.Equal(RtpPacketVerdict.InOrder, Send(s, 2));
        var q = s.Snapshot();
        Assert.True(q.HasStream);
        Assert.Equal(A, q.Ssrc);
        Assert.Equal((1L, 1L, 0L), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost));
    }

    [Fact]
    public void Probation_restarts_on_a_packet_out_of_sequence()
    {
        var s = new RtpStreamStats();
        Assert.Equal(RtpPacketVerdict.Probation, Send(s, 10));
        Assert.Equal(RtpPacketVerdict.Probation, Send(s, 12));
        Assert.Equal(RtpPacketVerdict.InOrder, Send(s, 13));
        Assert.Equal(13, s.Snapshot().ExtendedHighestSequence);
    }

    [Fact]
    public void A_hundred_packets_in_order_lose_nothing()
    {
        var q = Sent(Range(1, 100)).Snapshot();
        // base = 2 (the packet that ended probation), highest = 100: expected = 100 − 2 + 1 = 99
        Assert.Equal((99L, 99L, 0L, 0.0), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost, q.LossRatio));
        Assert.Equal((0L, 0L), (q.Duplicates, q.Reordered));
    }

    [Fact]
    public void Sequence_numbers_wrap_from_65535_to_0_and_count_a_cycle()
    {
        var s = new RtpStreamStats();
        foreach (var seq in new[] { 65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3, 4, 5 })
            Assert.NotEqual(RtpPacketVerdict.Jump, Send(s, (ushort)seq));
        var q = s.Snapshot();
        // base 65531, highest 5 in cycle 1: extended highest = 65536 + 5 = 65541, expected = 65541 − 65531 + 1 = 11
        Assert.Equal(65541, q.ExtendedHighestSequence);
        Assert.Equal((11L, 11L, 0L), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost));
    }

    [Fact]
    public void A_loss_across_the_wrap_is_counted_once()
    {
        var q = Sent(65533, 65534, 65535, 2, 3).Snapshot(); // 0 and 1 lost
        Assert.Equal(65536 + 3, q.ExtendedHighestSequence);
        Assert.Equal((6L, 4L, 2L), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost));
    }

    [Fact]
    public void Lost_packets_are_expected_minus_received()
    {
        var q = Sent(1, 2, 3, 5, 6, 8, 9, 10).Snapshot(); // 4 and 7 never arrive
        // expected = 10 − 2 + 1 = 9, received = 7 (2, 3, 5, 6, 8, 9, 10)
        Assert.Equal((9L, 7L, 2L), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost));
        Assert.Equal(2.0 / 9, q.LossRatio, 12);
    }

    [Fact]
    public void A_gap_below_max_dropout_is_loss_and_a_larger_jump_waits_for_confirmation()
    {
        var s = Sent(1, 2, 3);
        Assert.Equal(RtpPacketVerdict.InOrder, Send(s, 3 + 2999));            // MAX_DROPOUT − 1 ahead: a gap
        Assert.Equal(2998L, s.Snapshot().PacketsLost);
        Assert.Equal(RtpPacketVerdict.Jump, Send(s, 3002 + 3000));            // MAX_DROPOUT ahead: ignored
        Assert.Equal(RtpPacketVerdict.InOrder, Send(s, 3003));                // the stream goes on: nothing restarted
        var q = s.Snapshot();
        Assert.Equal((0L, 3003L - 2 + 1), (q.SequenceRestarts, q.PacketsExpected));
    }

    [Fact]
    public void A_confirmed_jump_restarts_the_sequence_and_carries_the_totals()
    {
        var s = Sent(Range(1, 10));                                        // expected 9, received 9
        Send(s, 8);                                                        // a duplicate before the jump
        Assert.Equal(RtpPacketVerdict.Jump, Send(s, 40_000));
        Assert.Equal(RtpPacketVerdict.SequenceRestart, Send(s, 40_001));   // two in a row: the sender restarted
        Assert.Equal(RtpPacketVerdict.InOrder, Send(s, 40_003));           // 40 002 lost
        var q = s.Snapshot();
        Assert.Equal(1, q.SequenceRestarts);
        Assert.Equal(40_003, q.ExtendedHighestSequence);
        // 9 expected before the restart + 40 003 − 40 001 + 1 after it; 9 + 2 received
        Assert.Equal((12L, 11L, 1L, 1L), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost, q.Duplicates));
    }

    [Fact]
    public void A_late_packet_is_reordered_and_fills_its_gap()
    {
        var s = Sent(1, 2, 3, 5);
        Assert.Equal(1L, s.Snapshot().PacketsLost);
        Assert.Equal(RtpPacketVerdict.Reordered, Send(s, 4));
        Send(s, 6);
        var q = s.Snapshot();
        Assert.Equal((5L, 5L, 0L, 1L, 0L), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost, q.Reordered, q.Duplicates));
    }

    [Fact]
    public void Reordering_across_the_wrap_is_still_reordering()
    {
        var s = Sent(65533, 65534, 0, 1);
        Assert.Equal(RtpPacketVerdict.Reordered, Send(s, 65535));
        var q = s.Snapshot();
        Assert.Equal((4L, 4L, 0L, 1L), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost, q.Reordered));
    }

    [Fact]
    public void Duplicates_are_counted_and_not_received_twice()
    {
        var s = Sent(1, 2, 3);
        Assert.Equal(RtpPacketVerdict.Duplicate, Send(s, 3));   // the highest again
        Assert.Equal(RtpPacketVerdict.Duplicate, Send(s, 2));   // an older one again
        Assert.Equal(RtpPacketVerdict.InOrder, Send(s, 4));
        var q = s.Snapshot();
        Assert.Equal((3L, 3L, 0L, 2L, 0L), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost, q.Duplicates, q.Reordered));
    }

    [Fact]
    public void A_duplicate_is_recognised_up_to_max_misorder_behind()
    {
        var s = Sent(Range(1, 300));
        Assert.Equal(RtpPacketVerdict.Duplicate, Send(s, 300 - 99));            // 99 behind: in the window
        Assert.Equal(RtpPacketVerdict.Jump, Send(s, 300 - 100));                // 100 behind: too old (A.1)
        var q = s.Snapshot();
        Assert.Equal((299L, 299L, 1L), (q.PacketsExpected, q.PacketsReceived, q.Duplicates));
    }

    [Fact]
    public void A_late_packet_that_fills_a_gap_after_a_jump_ahead_is_not_a_duplicate()
    {
        var s = Sent(1, 2, 3);
        Send(s, 200);                                                            // 196 lost for now: the window moves 197
        Assert.Equal(RtpPacketVerdict.Reordered, Send(s, 150));                  // 50 behind, not in the window
        Assert.Equal(RtpPacketVerdict.Duplicate, Send(s, 150));
        var q = s.Snapshot();
        Assert.Equal((199L, 4L, 195L), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost));
    }

    [Fact]
    public void A_packet_older_than_the_stream_is_late_not_received()
    {
        var s = Sent(10, 11, 12);      // base 11
        Assert.Equal(RtpPacketVerdict.Late, Send(s, 9));
        var q = s.Snapshot();
        Assert.Equal((2L, 2L, 0L, 1L), (q.PacketsExpected, q.PacketsReceived, q.PacketsLost, q.Reordered));
    }

    [Fact]
    public void A_new_ssrc_restarts_the_statistics_after_probation_and_counts_the_change()
    {
        var s = Sent(1, 2, 3, 5);      // one lost
        Assert.Equal(RtpPacketVerdict.ForeignSsrc, Send(s, 700, B));
        Assert.Equal(1L, s.Snapshot().PacketsLost);           // B is on probation: A's figures stand
        Assert.Equal(RtpPacketVerdict.NewSsrc, Send(s, 701, B));
        Assert.Equal(RtpPacketVerdict.InOrder, Send(s, 702, B));
        var q = s.Snapshot();
        Assert.Equal(B, q.Ssrc);
        Assert.Equal((1L, 2L, 2L, 0L), (q.SsrcChanges, q.PacketsExpected, q.PacketsReceived, q.PacketsLost));
    }

    [Fact]
    public void Interleaved_ssrcs_do_not_take_over_the_stream()
    {
        var s = Sent(1, 2);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(RtpPacketVerdict.InOrder, Send(s, (ushort)(3 + i)));
            Assert.Equal(RtpPacketVerdict.ForeignSsrc, Send(s, (ushort)(900 + i), B));
        }
        var q = s.Snapshot();
        Assert.Equal((A, 0L, 21L, 21L), (q.Ssrc, q.SsrcChanges, q.PacketsExpected, q.PacketsReceived));
    }

    [Fact]
    public void A_new_ssrc_before_the_first_was_validated_is_no_change()
    {
        var s = new RtpStreamStats();
        Send(s, 1);
        Assert.Equal(RtpPacketVerdict.Probation, Send(s, 50, B));
        Assert.Equal(RtpPacketVerdict.InOrder, Send(s, 51, B));
        var q = s.Snapshot();
        Assert.Equal((B, 0L, 1L), (q.Ssrc, q.SsrcChanges, q.PacketsReceived));
    }

    [Fact]
    public void What_is_not_rtp_is_ignored()
    {
        var s = Sent(1, 2);
        Assert.Equal(RtpPacketVerdict.NotRtp, s.OnRtp("hello"u8, 0));
        Assert.Equal(RtpPacketVerdict.NotRtp, s.OnRtp(ReadOnlySpan<byte>.Empty, 0));
        Assert.Equal(RtpPacketVerdict.NotRtp, s.OnRtp(RtpHeaderTests.ReceiverReport, 0));
        Assert.Equal(1L, s.Snapshot().PacketsReceived);
    }

    [Fact]
    public void The_interval_fraction_lost_follows_rfc_3550_a3()
    {
        var s = Sent(Range(1, 11));                  // expected 10, received 10
        var earlier = s.Snapshot();
        foreach (var q in new[] { 12, 13, 15, 16, 19, 20, 21 }) Send(s, (ushort)q); // 14, 17, 18 lost
        var later = s.Snapshot();
        // interval: expected 21 − 11 = 10, received 7, lost 3
        Assert.Equal(0.3, later.FractionLostSince(earlier), 12);
        Assert.Equal(0, earlier.FractionLostSince(earlier));
        Send(s, 21); Send(s, 20);                    // duplicates only: received does not grow, nothing more lost
        Assert.Equal(0, s.Snapshot().FractionLostSince(later));
    }
}

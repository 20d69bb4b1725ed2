using ActorRelay.Latching;
using ActorRelay.Quality;
using ActorRelay.Tests.Latching;
using CsCheck;
using Xunit;

namespace ActorRelay.Tests.Quality;

/// <summary>
/// The stream figures against a model on generated streams (loss, duplicates, reordering, wrap-around), the data
/// path's zero allocation, and snapshots taken while another thread writes.
/// </summary>
public sealed class RtpStreamStatsPropertyTests
{
    /// <summary>A start sequence number (often near the wrap) and steps relative to the highest number so far (−40 .. +5).</summary>
    private static readonly Gen<(int Start, int[] Steps)> Streams =
        Gen.Select(Gen.Frequency((1, Gen.Int[65_400, 65_535]), (1, Gen.Int[0, 65_535])), Gen.Int[-40, 5].Array[0, 300]);

    [Fact]
    public void Counts_match_a_model_of_distinct_sequence_numbers()
    {
        Streams.Sample((start, steps) =>
        {
            var s = new RtpStreamStats();
            var ext = new List<long> { start, start + 1L };               // extended numbers, as the model sees them
            var max = start + 1L;
            foreach (var step in steps)
            {
                var e = max + step;
                ext.Add(e);
                if (e > max) max = e;
            }
            for (var i = 0; i < ext.Count; i++)
                s.OnRtp(RtpPackets.Rtp((ushort)ext[i], 0x55, (uint)(ext[i] * 160)), 20_000L * i);

            var baseSeq = start + 1L;                                    // the packet that ended probation
            var counted = ext.Skip(1).ToList();
            var distinct = counted.Where(e => e >= baseSeq).Distinct().Count();
            var late = counted.Count(e => e < baseSeq);
            var q = s.Snapshot();
            Assert.True(q.Consistent);
            Assert.Equal(max - baseSeq + 1, q.PacketsExpected);
            Assert.Equal(distinct, q.PacketsReceived);
            Assert.Equal(max - baseSeq + 1 - distinct, q.PacketsLost);
            Assert.Equal(counted.Count - late - distinct, q.Duplicates);
            Assert.Equal(max - baseSeq + (baseSeq & 0xFFFF), q.ExtendedHighestSequence);   // cycles count from the base
            Assert.True(q.PacketsLost >= 0 && q.LossRatio is >= 0 and <= 1);
            Assert.True(double.IsFinite(q.JitterSeconds) && q.JitterSeconds >= 0);
            Assert.InRange(q.Mos, 1, 4.5);
        }, iter: 2_000);
    }

    [Fact]
    public void Arbitrary_datagrams_never_throw_and_lost_is_never_negative()
    {
        // Random headers with a few SSRCs, random sequence numbers and timestamps: whatever arrives, the figures stay sane.
        var packet = Gen.Select(Gen.Int[0, 2], Gen.UShort, Gen.UInt, Gen.Byte[0, 127], Gen.Bool, Gen.Long[0, 10_000_000])
            .Select(t => (Data: RtpPackets.Rtp(t.Item2, 0x100u + (uint)t.Item1, t.Item3, t.Item4, t.Item5), At: t.Item6));
        packet.Array[1, 200].Sample(packets =>
        {
            var s = new RtpStreamStats();
            foreach (var (data, at) in packets) s.OnRtp(data, at);
            var q = s.Snapshot();
            Assert.True(q.PacketsLost >= 0 && q.PacketsLost <= Math.Max(q.PacketsExpected, 0));
            Assert.True(q.PacketsReceived <= packets.Length && q.Duplicates <= packets.Length);
            Assert.True(double.IsFinite(q.JitterSeconds) && q.JitterSeconds >= 0);
            Assert.InRange(q.Mos, 1, 4.5);
        }, iter: 2_000);
    }

    [Fact]
    public void The_data_path_allocates_nothing()
    {
        var s = new RtpStreamStats();
        s.Formats.Register(101, 8000, "telephone-event");
        var packets = Enumerable.Range(0, 64).Select(i => RtpPackets.Rtp((ushort)(i * 3 % 64), 0x77, (uint)(160 * i), i % 16 == 0 ? (byte)101 : (byte)0, i % 10 == 0)).ToArray();
        var rtcp = RtcpReportTests.CapturedRr2;
        void Run(int rounds)
        {
            for (var r = 0; r < rounds; r++)
                for (var i = 0; i < packets.Length; i++)
                {
                    s.OnRtp(packets[i], 20_000L * (r * packets.Length + i));
                    RtpHeader.Classify(packets[i], out _, out _);
                    PacketDemux.Classify(packets[i]);
                    if (i == 0) s.OnRtcp(rtcp, r);
                }
        }
        Run(200); // warm up (tiered JIT)
        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(200);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Snapshots_taken_while_the_writer_runs_are_consistent()
    {
        // The writer sends an in-order stream where every 4th packet is lost: after any packet, lost and received
        // follow from expected. A snapshot mixing two packets' figures would break the relation.
        const int Packets = 200_000;
        var s = new RtpStreamStats();
        var done = 0;
        var writer = new Thread(() =>
        {
            ushort seq = 1;
            for (var i = 0; i < Packets; i++, seq++)
                if (seq % 4 != 0) s.OnRtp(RtpPackets.Rtp(seq, 0x99, (uint)(seq * 160), payload: 0), 20_000L * i);
            Volatile.Write(ref done, 1);
        });
        var snapshots = 0;
        writer.Start();
        while (Volatile.Read(ref done) == 0 || snapshots == 0)
        {
            var q = s.Snapshot();
            snapshots++;
            if (!q.HasStream || !q.Consistent) continue;
            // expected numbers run from base 2 to the highest; the highest is never a multiple of 4 (those are lost)
            var high = q.ExtendedHighestSequence;
            static long LostUpTo(long n) => n / 4;                      // multiples of 4 in 1..n
            Assert.Equal(high - 1, q.PacketsExpected);
            Assert.Equal(LostUpTo(high) - LostUpTo(1), q.PacketsLost);
            Assert.Equal(q.PacketsExpected - q.PacketsLost, q.PacketsReceived);
        }
        writer.Join();
        Assert.True(snapshots > 0);
    }
}

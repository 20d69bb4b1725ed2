using ActorRelay.Latching;
using ActorRelay.Protocol;
using CsCheck;
using Xunit;

namespace ActorRelay.Tests.Properties;

/// <summary>
/// The latch of one side driven by generated scripts (sources valid and invalid, datagrams of every kind, RTP streams
/// that continue, repeat, fall behind and jump, time, re-signals with and without an expected source) in every mode;
/// <see cref="CheckedSideLatch"/> checks every promise after every datagram. Scripts come in bursts (a few datagrams of
/// one shape from one source) so that probations pass and rebinds happen; each test also asserts that its scripts
/// reached the verdicts that matter, so a generator that stopped reaching them fails.
/// </summary>
public sealed class LatchPropertyTests
{
    private static readonly Gen<Shape> Shapes = Gen.Frequency(
        (2, Shape.Empty), (2, Shape.Junk), (1, Shape.Stun), (1, Shape.Dtls), (12, Shape.RtpNext), (1, Shape.RtpRepeat),
        (2, Shape.RtpBehind), (2, Shape.RtpAhead), (1, Shape.RtpAnySeq), (1, Shape.Rtcp), (1, Shape.RtpSsrcZero), (2, Shape.Resignal));

    private static readonly Gen<int> Sources = Gen.Frequency(
        (8, Gen.Int[0, LatchPools.ValidSources - 1]), (1, Gen.Int[LatchPools.ValidSources, LatchPools.Sources.Length - 1]));

    private static readonly Gen<int> Advance = Gen.Frequency((6, Gen.Int[0, 40]), (1, Gen.Int[0, 4000]));

    private static readonly Gen<int> FilterIndex = Gen.Frequency((3, Gen.Const(0)), (2, Gen.Int[1, LatchPools.Filters.Length - 1]));

    private static readonly Gen<LatchStep> Step =
        Gen.Select(Shapes, Sources, Gen.Int[0, LatchPools.Ssrcs.Length - 1], Gen.Int[0, 65535], Advance, Gen.Byte.Array[1, 40], FilterIndex,
            (shape, source, ssrc, value, advance, payload, filter) => new LatchStep(shape, source, ssrc, value, advance, payload, filter));

    /// <summary>A burst: one step repeated 1..6 times (an RTP burst continues its sequence).</summary>
    private static readonly Gen<LatchStep[]> Burst = Gen.Select(Step, Gen.Int[1, 6], Gen.Int[0, 40],
        (step, count, gap) => Enumerable.Range(0, count).Select(k => k == 0 ? step : step with { AdvanceMs = gap }).ToArray());

    private static readonly Gen<LatchStep[]> Script = Burst.Array[0, 40].Select(bursts => bursts.SelectMany(b => b).ToArray());

    private static Gen<LatchPolicy> Policy(LatchMode mode) =>
        Gen.Select(Gen.Int[0, 5], Gen.Frequency((3, Gen.Const(536)), (1, Gen.Int[0, 1200])), Gen.Frequency((2, Gen.Const(3000)), (1, Gen.Int[0, 500])), FilterIndex,
            (probation, jump, window, filter) => new LatchPolicy(mode, TimeSpan.FromMilliseconds(window), probation, jump, LatchPools.Filters[filter]));

    private static string Show(LatchPolicy policy, LatchStep[] script) =>
        $"{policy.Mode} probation {policy.Probation} jump {policy.MaxSequenceJump} window {policy.LearningWindow.TotalMilliseconds} ms expected {policy.Expected?.Text ?? "-"}:\n  " +
        string.Join("\n  ", script);

    public static TheoryData<LatchMode, LatchVerdict[]> Modes() => new()
    {
        { LatchMode.Auto, [LatchVerdict.Latched, LatchVerdict.Moved, LatchVerdict.Confirmed, LatchVerdict.Accept, LatchVerdict.DropProbation,
            LatchVerdict.DropForeignSource, LatchVerdict.DropNotRtp, LatchVerdict.DropEmpty, LatchVerdict.DropInvalidSource, LatchVerdict.DropUnexpectedSource] },
        { LatchMode.Rtp, [LatchVerdict.Latched, LatchVerdict.Moved, LatchVerdict.Accept, LatchVerdict.DropProbation, LatchVerdict.DropForeignSource,
            LatchVerdict.DropNotRtp, LatchVerdict.DropEmpty, LatchVerdict.DropInvalidSource, LatchVerdict.DropUnexpectedSource] },
        { LatchMode.First, [LatchVerdict.Latched, LatchVerdict.Moved, LatchVerdict.Accept, LatchVerdict.DropForeignSource, LatchVerdict.DropEmpty,
            LatchVerdict.DropInvalidSource, LatchVerdict.DropUnexpectedSource] },
        { LatchMode.Follow, [LatchVerdict.Latched, LatchVerdict.Moved, LatchVerdict.Accept, LatchVerdict.DropEmpty, LatchVerdict.DropInvalidSource,
            LatchVerdict.DropUnexpectedSource] },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Every_promise_of_the_latch_holds_for_generated_scripts(LatchMode mode, LatchVerdict[] reached)
    {
        var seen = new HashSet<LatchVerdict>();
        var moves = 0;
        Gen.Select(Policy(mode), Script).Sample((policy, script) =>
        {
            var run = LatchScript.Run(policy, script);
            lock (seen)
            {
                seen.UnionWith(run.Verdicts);
                moves += run.Verdicts.Count(v => v == LatchVerdict.Moved);
            }
        }, iter: 2000, print: t => Show(t.Item1, t.Item2));
        Assert.Empty(reached.Except(seen));
        Assert.True(moves > 100, $"only {moves} moves in all scripts");
    }

    [Fact]
    public void Rtp_sides_are_moved_both_by_a_nat_rebind_and_by_probation_after_a_resignal()
    {
        // the two ways an RTP side may move are both reached by the generated scripts (else the check of the rule is idle)
        var rebinds = 0;
        var relearned = 0;
        Gen.Select(Policy(LatchMode.Rtp), Script).Sample((policy, script) =>
        {
            var run = LatchScript.Run(policy, script);
            var resignalled = false;
            var k = 0;
            foreach (var step in script)
            {
                if (step.Shape == Shape.Resignal) { resignalled = true; continue; }
                if (run.Verdicts[k++] != LatchVerdict.Moved) continue;
                if (resignalled) Interlocked.Increment(ref relearned);
                else Interlocked.Increment(ref rebinds); // without a re-signal only the rebind rule moves an RTP side
            }
        }, iter: 2000, print: t => Show(t.Item1, t.Item2));
        Assert.True(rebinds > 20, $"{rebinds} rebinds");
        Assert.True(relearned > 20, $"{relearned} moves after a re-signal");
    }

    [Fact]
    public void The_same_script_gives_the_same_verdicts()
    {
        Gen.Select(Gen.Enum<LatchMode>().SelectMany(Policy), Script).Sample((policy, script) =>
        {
            var a = LatchScript.Run(policy, script);
            var b = LatchScript.Run(policy, script);
            Assert.Equal(a.Verdicts, b.Verdicts);
            Assert.Equal((a.Latch.IsLatched, a.Latch.Current, a.Latch.CarriesRtp), (b.Latch.IsLatched, b.Latch.Current, b.Latch.CarriesRtp));
        }, iter: 400, print: t => Show(t.Item1, t.Item2));
    }

    // ---- the checks have teeth: a latch that runs a looser policy than the one checked is caught ----

    private static LatchStep Rtp(int source, Shape shape = Shape.RtpNext, int advance = 20) => new(shape, source, 0, 0, advance, []);

    private static readonly LatchPolicy Strict = new(LatchMode.Rtp, TimeSpan.FromSeconds(3), 4, 536);

    [Fact]
    public void A_latch_that_follows_a_stale_packet_is_caught()
    {
        LatchStep[] script = [Rtp(0), Rtp(0), Rtp(0), Rtp(0), Rtp(1), Rtp(0, Shape.RtpBehind)]; // client, a rebind, a stale packet from the old port
        LatchScript.Run(Strict, script);
        var e = Assert.Throws<LatchInvariantException>(() => LatchScript.Run(Strict, script, Strict with { MaxSequenceJump = 65535 }));
        Assert.Contains("moves only to its own SSRC", e.Message);
    }

    [Fact]
    public void A_latch_that_takes_another_ssrc_without_a_window_is_caught()
    {
        var other = new LatchStep(Shape.RtpNext, 3, 1, 0, 20, []);
        LatchStep[] script = [Rtp(0), Rtp(0), Rtp(0), Rtp(0), other, other, other, other];
        LatchScript.Run(Strict, script);
        // a latch run as mode follow, checked as rtp (probation 1 for both): the other SSRC's first packet moves it
        var quick = Strict with { Probation = 1 };
        var e = Assert.Throws<LatchInvariantException>(() => LatchScript.Run(quick, [Rtp(0), other], quick with { Mode = LatchMode.Follow }));
        Assert.Contains("an RTP side", e.Message);
    }

    [Fact]
    public void A_latch_with_a_shorter_probation_is_caught()
    {
        var e = Assert.Throws<LatchInvariantException>(() => LatchScript.Run(Strict, [Rtp(3)], Strict with { Probation = 1 }));
        Assert.Contains("only after a probation of 4", e.Message);
    }

    [Fact]
    public void A_latch_that_ignores_the_expected_source_is_caught()
    {
        var expected = Strict with { Mode = LatchMode.First, Expected = LatchPools.Filters[1] };
        var e = Assert.Throws<LatchInvariantException>(() => LatchScript.Run(expected, [Rtp(3)], expected with { Expected = null }));
        Assert.Contains("no source outside the expected", e.Message);
    }

    [Fact]
    public void A_latch_that_follows_every_source_is_caught_as_first()
    {
        var first = Strict with { Mode = LatchMode.First };
        var e = Assert.Throws<LatchInvariantException>(() => LatchScript.Run(first, [Rtp(0), Rtp(3)], first with { Mode = LatchMode.Follow }));
        Assert.Contains("first's rules", e.Message);
    }
}

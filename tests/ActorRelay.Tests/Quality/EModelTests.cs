using ActorRelay.Quality;
using CsCheck;
using Xunit;

namespace ActorRelay.Tests.Quality;

/// <summary>The simplified E-model on worked examples, and its monotonicity in loss and jitter.</summary>
public sealed class EModelTests
{
    [Fact]
    public void No_loss_and_no_jitter_is_g107s_default_rating()
    {
        // R = 94.77 − 1.43 − 0.15 − Idd(60 ms) − Ie,eff(0) = 93.19, Idd = 0 below 100 ms
        Assert.Equal(93.19, EModel.RFactor(0, 0, CodecImpairment.G711), 10);
        // MOS = 1 + 0.035 × 93.19 + 93.19 × 33.19 × 6.81 × 7e−6 = 4.40909...
        Assert.Equal(4.409092, EModel.Mos(0, 0, CodecImpairment.G711), 5);
    }

    [Fact]
    public void One_percent_loss_on_g711_with_plc()
    {
        // Ie,eff = 0 + 95 × 1 / (1 + 25.1) = 3.63985; R = 93.19 − 3.63985 = 89.55015
        Assert.Equal(95 / 26.1, EModel.EffectiveEquipmentImpairment(0.01, CodecImpairment.G711), 10);
        Assert.Equal(89.550153, EModel.RFactor(0.01, 0, CodecImpairment.G711), 5);
        Assert.Equal(4.327824, EModel.Mos(0.01, 0, CodecImpairment.G711), 5);
    }

    [Fact]
    public void Two_percent_loss_on_g729a()
    {
        // Ie,eff = 11 + (95 − 11) × 2 / (2 + 19) = 19; R = 93.19 − 19 = 74.19
        Assert.Equal(19, EModel.EffectiveEquipmentImpairment(0.02, CodecImpairment.G729A), 10);
        Assert.Equal(74.19, EModel.RFactor(0.02, 0, CodecImpairment.G729A), 10);
        Assert.Equal(3.786851, EModel.Mos(0.02, 0, CodecImpairment.G729A), 5);
    }

    [Fact]
    public void Jitter_adds_delay_through_the_assumed_jitter_buffer()
    {
        // J = 70 ms: Ta = 60 + 2 × 70 = 200 ms, X = log2(2) = 1,
        // Idd = 25 × ((1 + 1)^(1/6) − 3 (1 + 3^−6)^(1/6) + 2) = 25 × 0.121776569 = 3.044414
        Assert.Equal(200, EModel.OneWayDelayMs(0.070), 10);
        Assert.Equal(3.044414, EModel.DelayImpairment(200), 5);
        Assert.Equal(93.19 - 3.044414, EModel.RFactor(0, 0.070, CodecImpairment.G711), 5);
        Assert.Equal(0, EModel.DelayImpairment(100));      // up to 100 ms no delay impairment
        Assert.Equal(0, EModel.RFactor(0, 0.020, CodecImpairment.G711) - 93.19, 10); // Ta = 100 ms
    }

    [Theory]
    [InlineData(-5, 1)]
    [InlineData(0, 1)]
    [InlineData(3, 1)]        // the Annex B polynomial is below 1 here: floored
    [InlineData(50, 2.575)]   // 1 + 1.75 + 50 × (−10) × 50 × 7e−6
    [InlineData(100, 4.5)]
    [InlineData(120, 4.5)]
    public void R_maps_to_mos_with_g107_annex_b(double r, double mos)
    {
        Assert.Equal(mos, EModel.MosFromR(r), 10);
    }

    [Fact]
    public void Total_loss_leaves_only_what_the_loss_term_allows()
    {
        // G.711 with PLC, 100 % loss: Ie,eff = 95 × 100 / (100 + 25.1) = 75.939; R = 17.251, MOS = 1.1766
        Assert.Equal(93.19 - 9500 / 125.1, EModel.RFactor(1, 0, CodecImpairment.G711), 10);
        Assert.Equal(1.176608, EModel.Mos(1, 0, CodecImpairment.G711), 5);
        // G.723.1, 100 % loss and 1 s of jitter (Ta = 2.06 s): R < 0, the floor
        Assert.True(EModel.RFactor(1, 1, CodecImpairment.G7231) < 0);
        Assert.Equal(1, EModel.Mos(1, 1, CodecImpairment.G7231));
    }

    private static readonly CodecImpairment[] Codecs =
        [CodecImpairment.G711, CodecImpairment.G711WithoutPlc, CodecImpairment.G729A, CodecImpairment.G7231, CodecImpairment.GsmEfr];

    [Fact]
    public void Mos_never_rises_with_more_loss_or_more_jitter()
    {
        Gen.Select(Gen.Double[0, 1], Gen.Double[0, 1], Gen.Double[0, 2], Gen.Double[0, 2], Gen.Int[0, Codecs.Length - 1])
           .Sample((l1, l2, j1, j2, c) =>
           {
               var codec = Codecs[c];
               var (lowLoss, highLoss) = l1 <= l2 ? (l1, l2) : (l2, l1);
               var (lowJitter, highJitter) = j1 <= j2 ? (j1, j2) : (j2, j1);
               // up to rounding: inputs a few ulps apart may give results a few ulps apart either way
               const double ulps = 1e-12;
               var best = EModel.Mos(lowLoss, lowJitter, codec);
               Assert.True(EModel.Mos(highLoss, lowJitter, codec) <= best + ulps);
               Assert.True(EModel.Mos(lowLoss, highJitter, codec) <= best + ulps);
               Assert.True(EModel.Mos(highLoss, highJitter, codec) <= EModel.Mos(highLoss, lowJitter, codec) + ulps);
               Assert.True(EModel.RFactor(highLoss, highJitter, codec) <= EModel.RFactor(lowLoss, lowJitter, codec) + ulps);
               Assert.InRange(best, 1, 4.5);
           }, iter: 20_000);
    }

    [Fact]
    public void Mos_is_monotone_in_r()
    {
        Gen.Select(Gen.Double[-20, 120], Gen.Double[-20, 120]).Sample((a, b) =>
        {
            var (low, high) = a <= b ? (a, b) : (b, a);
            Assert.True(EModel.MosFromR(low) <= EModel.MosFromR(high));
        }, iter: 20_000);
    }

    [Fact]
    public void The_stream_snapshot_scores_its_own_loss_and_jitter()
    {
        var s = new RtpStreamStats();
        for (var i = 1; i <= 101; i++)
            if (i % 50 != 0)   // 50 and 100 lost: 2 of the 100 expected from seq 2 to 101
                s.OnRtp(Latching.RtpPackets.Rtp((ushort)i, 0x42, (uint)(160 * i), pt: 18), 20_000L * i);
        var q = s.Snapshot();
        Assert.Equal((100L, 2L, 0.02), (q.PacketsExpected, q.PacketsLost, q.LossRatio));
        Assert.Equal((CodecImpairment.G729A, false), (q.Codec, q.CodecAssumed));
        Assert.Equal(74.19, q.RFactor, 10);
        Assert.Equal(EModel.MosFromR(74.19), q.Mos, 10);
    }

    [Fact]
    public void An_unknown_codec_is_scored_as_g711_and_says_so()
    {
        var s = new RtpStreamStats();
        s.OnRtp(Latching.RtpPackets.Rtp(1, 0x42, 0, pt: 97), 0);
        s.OnRtp(Latching.RtpPackets.Rtp(2, 0x42, 160, pt: 97), 20_000);
        var q = s.Snapshot();
        Assert.Equal((CodecImpairment.G711, true), (q.Codec, q.CodecAssumed));
    }
}

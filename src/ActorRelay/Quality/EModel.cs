namespace ActorRelay.Quality;

/// <summary>
/// A MOS estimate from what a relay can measure (packet loss and interarrival jitter), by a simplified ITU-T G.107
/// E-model. Pure functions; monotone non-increasing in loss and in jitter.
/// <code>
///   R = R0 − Is − Id − Ie,eff                                                  (G.107 §7.1, advantage factor A = 0)
///
///   R0 − Is = 94.77 − 1.43                   G.107 default values: R0 = 15 − 1.5(SLR + No) with SLR 8 dB and
///                                            No = −61.18 dBm0p; Is = 1.43 (default SLR, STMR, quantisation)
///   Id = IdEcho + Idd(Ta)                    IdEcho = 0.15: Idte + Idle at the default echo parameters
///                                            (TELR 65 dB, WEPL 110 dB) and short delays; with it R = 93.2 at
///                                            zero loss and delay, G.107's default rating. The terminals' echo
///                                            control is unknown to a relay, so it is not modelled further.
///   Idd(Ta) = 0                                                        for Ta ≤ 100 ms
///   Idd(Ta) = 25 { (1 + X^6)^(1/6) − 3 (1 + (X/3)^6)^(1/6) + 2 },
///             X = log2(Ta / 100 ms)                                     for Ta > 100 ms  (G.107 §7.4)
///   Ta = 60 ms + 2 × J                       one-way mouth-to-ear delay: an assumed fixed part (20 ms packets,
///                                            codec look-ahead and a short network path) plus a jitter buffer
///                                            sized to twice the RFC 3550 interarrival jitter J (in ms). The relay
///                                            cannot measure the real delay; this is an assumption.
///   Ie,eff = Ie + (95 − Ie) × Ppl / (Ppl / BurstR + Bpl)               (G.107 §7.5, BurstR = 1: random loss)
///             Ppl = packet loss in percent, Ie and Bpl from ITU-T G.113 Appendix I (<see cref="CodecImpairment"/>)
///
///   MOS = 1                                                             for R ≤ 0
///   MOS = 1 + 0.035 R + R (R − 60)(100 − R) × 7 × 10^−6                 for 0 &lt; R &lt; 100   (G.107 Annex B)
///   MOS = 4.5                                                           for R ≥ 100
/// </code>
/// The Annex B polynomial dips below 1 for 0 &lt; R &lt; 6.5; the result is floored at 1 there, which keeps MOS
/// monotone in R. Late packets discarded by the assumed jitter buffer are not counted as loss.
/// </summary>
public static class EModel
{
    /// <summary>Basic signal-to-noise ratio at G.107's default parameter values.</summary>
    public const double R0 = 94.77;
    /// <summary>Simultaneous impairment factor at G.107's default parameter values.</summary>
    public const double Is = 1.43;
    /// <summary>Talker and listener echo impairments (Idte + Idle) at G.107's default echo parameters and short delays.</summary>
    public const double IdEcho = 0.15;
    /// <summary>Assumed one-way delay apart from the jitter buffer (packetisation, codec, network), in ms.</summary>
    public const double AssumedFixedDelayMs = 60;
    /// <summary>The assumed jitter buffer holds this many times the interarrival jitter.</summary>
    public const double JitterBufferFactor = 2;
    /// <summary>Burst ratio: 1 for random (independent) packet loss.</summary>
    public const double BurstRatio = 1;

    private const double MaxJitterSeconds = 1000; // bounds Ta so the formula stays finite; Idd has long saturated by then

    /// <summary>The assumed one-way delay Ta, in ms, for an interarrival jitter in seconds.</summary>
    public static double OneWayDelayMs(double jitterSeconds) =>
        AssumedFixedDelayMs + JitterBufferFactor * 1000 * ClampJitter(jitterSeconds);

    /// <summary>Idd, the impairment of a one-way delay <paramref name="oneWayDelayMs"/> (G.107 §7.4, mT = 100 ms).</summary>
    public static double DelayImpairment(double oneWayDelayMs)
    {
        if (!(oneWayDelayMs > 100)) return 0;   // NaN too
        var x = Math.Log2(oneWayDelayMs / 100);
        // 25·((1+x⁶)^⅙ − 3(1+(x/3)⁶)^⅙ + 2), written as 25·(g(x⁶) − 3·g((x/3)⁶)) with g(y) = (1+y)^⅙ − 1 computed
        // without cancellation: for a delay just above 100 ms the terms are ~1 and their difference ~1e-18, and the
        // plain form returned rounding noise (not monotone in the delay).
        return 25 * (SixthRootMinusOne(Math.Pow(x, 6)) - 3 * SixthRootMinusOne(Math.Pow(x / 3, 6)));
    }

    private static double SixthRootMinusOne(double y) => double.ExpM1(double.LogP1(y) / 6);

    /// <summary>Ie,eff for a loss ratio (0..1) with the codec's Ie and Bpl, random loss (G.107 §7.5).</summary>
    public static double EffectiveEquipmentImpairment(double lossRatio, CodecImpairment codec)
    {
        var ppl = 100 * ClampLoss(lossRatio);
        return codec.Ie + (95 - codec.Ie) * ppl / (ppl / BurstRatio + codec.Bpl);
    }

    /// <summary>The transmission rating R for a loss ratio (0..1) and an interarrival jitter in seconds.</summary>
    public static double RFactor(double lossRatio, double jitterSeconds, CodecImpairment codec) =>
        R0 - Is - IdEcho - DelayImpairment(OneWayDelayMs(jitterSeconds)) - EffectiveEquipmentImpairment(lossRatio, codec);

    /// <summary>G.107 Annex B: R → MOS (conversational quality, estimated), floored at 1.</summary>
    public static double MosFromR(double r)
    {
        if (double.IsNaN(r) || r <= 0) return 1;
        if (r >= 100) return 4.5;
        return Math.Max(1, 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6);
    }

    /// <summary>The MOS estimate for a loss ratio (0..1) and an interarrival jitter in seconds.</summary>
    public static double Mos(double lossRatio, double jitterSeconds, CodecImpairment codec) =>
        MosFromR(RFactor(lossRatio, jitterSeconds, codec));

    private static double ClampLoss(double lossRatio) => double.IsNaN(lossRatio) ? 0 : Math.Clamp(lossRatio, 0, 1);

    private static double ClampJitter(double jitterSeconds) => double.IsNaN(jitterSeconds) ? 0 : Math.Clamp(jitterSeconds, 0, MaxJitterSeconds);
}

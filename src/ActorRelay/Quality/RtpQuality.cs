namespace ActorRelay.Quality;

/// <summary>
/// A copy of one stream's quality figures (<see cref="RtpStreamStats.Snapshot"/>): what passed through one side of a
/// channel, plus what the client on that side reported in RTCP about the stream it receives.
/// </summary>
/// <param name="HasStream">A stream passed probation (two packets in sequence); before that every count is 0.</param>
/// <param name="Ssrc">The SSRC of the stream the figures are about.</param>
/// <param name="PayloadType">The payload type of the last media packet (telephone-event excluded), or -1.</param>
/// <param name="ExtendedHighestSequence">Sequence cycles × 65536 + highest sequence number received (RFC 3550 A.1; the
/// low 32 bits are what an RTCP report block carries), since the last sequence restart.</param>
/// <param name="PacketsReceived">Distinct packets counted since the stream started (duplicates excluded).</param>
/// <param name="PacketsExpected">Extended highest sequence number − base + 1 (RFC 3550 A.3), summed over sequence restarts.</param>
/// <param name="PacketsLost">Expected − received, never negative.</param>
/// <param name="LossRatio">Lost / expected (0 when nothing is expected).</param>
/// <param name="Duplicates">Packets whose sequence number was already received (within the last 128).</param>
/// <param name="Reordered">Packets that arrived after a higher sequence number (late but not duplicates).</param>
/// <param name="SsrcChanges">Times the stream restarted with a new SSRC (a new SSRC passed probation).</param>
/// <param name="SequenceRestarts">Times the same SSRC jumped to a far sequence number and kept going from there (RFC 3550 A.1).</param>
/// <param name="TimestampJumps">Times the transit time changed by more than <see cref="RtpStreamStats.MaxTransitJumpSeconds"/>
/// (a sender's timestamp discontinuity): jitter was re-based instead of updated.</param>
/// <param name="JitterSeconds">RFC 3550 A.8 interarrival jitter, in seconds.</param>
/// <param name="ClockRate">The clock rate used for the jitter (Hz), 0 before any media packet.</param>
/// <param name="ClockRateAssumed">The payload type is neither static nor registered: 8 kHz was assumed.</param>
/// <param name="Codec">The E-model figures used for <see cref="Mos"/>.</param>
/// <param name="CodecAssumed">The payload type has no codec figures here: G.711 with PLC was assumed.</param>
/// <param name="RFactor">The E-model rating from loss and jitter (<see cref="EModel"/>).</param>
/// <param name="Mos">The MOS estimate (1 .. 4.5) from <see cref="RFactor"/>.</param>
/// <param name="Reports">The latest RTCP report block per reported SSRC, from RTCP that passed through this side.</param>
/// <param name="Consistent">All stream figures come from the state after one and the same packet (see <see cref="RtpStreamStats"/>).</param>
public sealed record RtpQuality(
    bool HasStream,
    uint Ssrc,
    int PayloadType,
    long ExtendedHighestSequence,
    long PacketsReceived,
    long PacketsExpected,
    long PacketsLost,
    double LossRatio,
    long Duplicates,
    long Reordered,
    long SsrcChanges,
    long SequenceRestarts,
    long TimestampJumps,
    double JitterSeconds,
    int ClockRate,
    bool ClockRateAssumed,
    CodecImpairment Codec,
    bool CodecAssumed,
    double RFactor,
    double Mos,
    IReadOnlyList<RtcpReportFigures> Reports,
    bool Consistent)
{
    /// <summary>
    /// RFC 3550 A.3: the fraction lost between <paramref name="earlier"/> and this snapshot of the same stream
    /// (expected and received in the interval; 0 when the interval received as many or more than it expected, or
    /// when the SSRC changed in between, or nothing was expected).
    /// </summary>
    public double FractionLostSince(RtpQuality earlier)
    {
        if (!HasStream || !earlier.HasStream || earlier.Ssrc != Ssrc || earlier.SsrcChanges != SsrcChanges) return 0;
        var expected = PacketsExpected - earlier.PacketsExpected;
        var received = PacketsReceived - earlier.PacketsReceived;
        var lost = expected - received;
        return expected <= 0 || lost <= 0 ? 0 : (double)lost / expected;
    }
}

/// <summary>What a client reported in RTCP (SR/RR report block, RFC 3550 §6.4) about a stream it receives.</summary>
/// <param name="ReporterSsrc">The SSRC of the client that sent the report.</param>
/// <param name="SourceSsrc">The SSRC of the stream reported on.</param>
/// <param name="FractionLost">Fraction lost since the reporter's previous report (0 .. 255/256).</param>
/// <param name="CumulativeLost">Packets lost since reception started, as reported: signed (a client's duplicates can make it negative).</param>
/// <param name="ExtendedHighestSequence">Cycles and highest sequence number received.</param>
/// <param name="JitterUnits">Interarrival jitter in RTP timestamp units, as reported.</param>
/// <param name="JitterSeconds">The same in seconds, with <see cref="ClockRate"/>.</param>
/// <param name="ClockRate">The clock rate used for the conversion (Hz).</param>
/// <param name="ClockRateAssumed">The rate was not known from the reported stream's payload type: 8 kHz was assumed.</param>
/// <param name="ArrivalMicros">When the report passed through (the caller's clock, microseconds).</param>
/// <param name="ReportsSeen">How many report blocks about this source have passed through.</param>
public sealed record RtcpReportFigures(
    uint ReporterSsrc,
    uint SourceSsrc,
    double FractionLost,
    long CumulativeLost,
    uint ExtendedHighestSequence,
    uint JitterUnits,
    double JitterSeconds,
    int ClockRate,
    bool ClockRateAssumed,
    long ArrivalMicros,
    long ReportsSeen);

/// <summary>What <see cref="RtpStreamStats.OnRtp"/> made of one packet.</summary>
public enum RtpPacketVerdict : byte
{
    /// <summary>Not structurally valid RTP: ignored.</summary>
    NotRtp,
    /// <summary>The stream (or a new SSRC that replaced an unvalidated one) is still in probation: not counted.</summary>
    Probation,
    /// <summary>Next in sequence, or ahead with a gap of fewer than <see cref="RtpStreamStats.MaxDropout"/> (the gap is lost until it arrives).</summary>
    InOrder,
    /// <summary>Behind the highest sequence number by less than <see cref="RtpStreamStats.MaxMisorder"/> and not seen before: counted as received and reordered.</summary>
    Reordered,
    /// <summary>A sequence number already received: counted as a duplicate only.</summary>
    Duplicate,
    /// <summary>Behind the highest sequence number but older than the stream's first counted packet: counted as reordered only.</summary>
    Late,
    /// <summary>A jump too large to be in sequence: ignored until the next packet confirms it (RFC 3550 A.1 bad_seq).</summary>
    Jump,
    /// <summary>A confirmed jump: sequence counting restarted from this packet (totals carried on).</summary>
    SequenceRestart,
    /// <summary>A packet of another SSRC while the current stream is valid: counted nowhere, the new SSRC is on probation.</summary>
    ForeignSsrc,
    /// <summary>A new SSRC passed probation: the stream's figures restarted with this packet.</summary>
    NewSsrc,
}

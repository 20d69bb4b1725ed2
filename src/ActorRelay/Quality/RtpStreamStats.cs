using ActorRelay.Latching;

namespace ActorRelay.Quality;

/// <summary>
/// Quality figures of the RTP stream that passes through one side of a channel, computed on the data path from the
/// packets themselves: RFC 3550 Appendix A.1/A.3 sequence accounting (probation, dropout, misorder, cycles, expected,
/// lost), duplicates, reordering, SSRC changes, A.8 interarrival jitter with the payload type's clock rate, and the
/// report blocks of RTCP passing through. Allocation-free per packet, no locks; time is passed in, never read.
/// docs/quality.md has the formulas.
/// <para><b>Threading.</b> One writer: <see cref="OnRtp"/> and <see cref="OnRtcp"/> are called by one thread at a
/// time (the side's receive path). <see cref="Snapshot"/>, <see cref="Formats"/> registrations and
/// <see cref="ReportsAbout"/> may be called from any thread. The writer publishes its figures after every packet
/// inside a sequence lock (a version counter, odd while publishing, written with release semantics; the figures are
/// written with release semantics after it). <see cref="Snapshot"/> copies them and retries while the version was
/// odd or changed under it, so a snapshot with <see cref="RtpQuality.Consistent"/> true holds the state after one
/// and the same packet: expected, received, lost, duplicates and jitter agree with each other. If the writer keeps
/// publishing through every one of <see cref="SnapshotAttempts"/> attempts (a writer descheduled in the middle of
/// publishing), the snapshot returns the last copy with <c>Consistent</c> false: each figure is then one the writer
/// really published (no torn 64-bit values), but figures may come from two consecutive packets; lost is still
/// clamped to 0..expected. Snapshots never block or slow the writer.</para>
/// <para><b>Sequence</b> (RFC 3550 A.1, constants from there): a stream is counted once <see cref="MinSequential"/>
/// packets arrived in sequence; from then on a packet less than <see cref="MaxDropout"/> ahead moves the highest
/// sequence number (counting a cycle on wrap-around), one less than <see cref="MaxMisorder"/> behind is a late
/// packet (reordered, or a duplicate when its number was already seen: a 128-packet bitmap of recent numbers), and a
/// larger jump is ignored unless the next packet follows it, which restarts the sequence accounting (totals carry
/// on). Unlike A.1, duplicates are not counted as received, so lost is a count of packets really missing.</para>
/// <para><b>SSRC change</b>: a packet of another SSRC is ignored and starts that SSRC's probation; when the new SSRC
/// sends <see cref="MinSequential"/> packets in sequence without a packet of the current SSRC in between, the
/// stream restarts with it (all figures but <see cref="RtpQuality.SsrcChanges"/> and the RTCP reports start again).
/// Two interleaved SSRCs therefore never make the figures flap: the first one keeps them.</para>
/// <para><b>Jitter</b> (RFC 3550 A.8, in arrival order, duplicates and packets in probation excluded):
/// D = (Rj − Ri) − (Sj − Si) with arrival times R in seconds and RTP timestamps S divided by the clock rate;
/// J += (|D| − J) / 16. It is kept in seconds, which equals A.8's figure in timestamp units divided by the rate.
/// Timestamp jumps: a packet with the marker bit (the start of a talk spurt, RFC 3551 §4.1) only re-bases the
/// reference (its timestamp may have skipped the silence, or not, depending on the sender); so does a change of
/// clock rate; a |D| above <see cref="MaxTransitJumpSeconds"/> is taken as a sender's timestamp discontinuity
/// (a PBX switching sources under one SSRC, a hold) and re-bases without updating J, counted in
/// <see cref="RtpQuality.TimestampJumps"/>. telephone-event packets never feed the jitter.</para>
/// </summary>
public sealed class RtpStreamStats
{
    /// <summary>Packets in sequence that validate a source (RFC 3550 A.1).</summary>
    public const int MinSequential = 2;
    /// <summary>Largest forward jump (exclusive) still taken as a gap in one stream (RFC 3550 A.1).</summary>
    public const int MaxDropout = 3000;
    /// <summary>Largest backward distance taken as a late packet (RFC 3550 A.1).</summary>
    public const int MaxMisorder = 100;
    /// <summary>A transit time change larger than this is a timestamp discontinuity, not jitter.</summary>
    public const double MaxTransitJumpSeconds = 1.0;
    /// <summary>How many times <see cref="Snapshot"/> tries to copy a consistent state.</summary>
    public const int SnapshotAttempts = 64;
    /// <summary>How many reported SSRCs the RTCP figures keep (the least recently reported one is replaced).</summary>
    public const int MaxReportedSources = 4;

    private const int SeqMod = 1 << 16;
    private const int WindowBits = 128;

    // ---- writer state (the receive path only) ----
    private bool _haveSsrc, _valid;
    private uint _ssrc;
    private int _probation;
    private ushort _maxSeq;
    private long _cycles;
    private long _baseExt;
    private int _badSeq = SeqMod + 1;
    private long _received, _expectedCarried, _receivedCarried;
    private ulong _windowLo, _windowHi;     // bit i: extended sequence (highest − i) was received
    private long _duplicates, _reordered, _ssrcChanges, _sequenceRestarts, _timestampJumps;
    private uint _candidateSsrc;
    private ushort _candidateSeq;
    private int _candidateCount;
    private bool _haveReference;
    private long _referenceArrival;
    private uint _referenceTimestamp;
    private int _referenceRate;
    private double _jitter;                 // seconds
    private int _lastPayloadType = -1;
    private int _clockRate;                 // of the last media packet; 0 none
    private bool _rateAssumed;
    private readonly ReportSlot[] _reports = new ReportSlot[MaxReportedSources];

    // ---- published figures (written in Publish, read in Snapshot) ----
    private int _version;
    private int _pFlags;                    // 1: has stream; 2: rate assumed
    private uint _pSsrc;
    private int _pPayloadType = -1, _pClockRate;
    private long _pExtendedHighest, _pReceived, _pExpected, _pDuplicates, _pReordered, _pSsrcChanges, _pSequenceRestarts, _pTimestampJumps;
    private double _pJitter;

    private volatile RtpStreamStats? _reportedStream;

    public RtpStreamStats(PayloadFormats? formats = null) => Formats = formats ?? new PayloadFormats();

    /// <summary>The payload types' clock rates for this stream; register dynamic ones here (from any thread).</summary>
    public PayloadFormats Formats { get; }

    /// <summary>
    /// The stream that RTCP passing through this side reports on is the one counted by <paramref name="opposite"/>
    /// (the other side's stats of the channel): its clock rate converts the reported jitter to seconds. Without it,
    /// this stream's own clock rate is used (both directions of a call normally use the same codec). Any thread.
    /// </summary>
    public void ReportsAbout(RtpStreamStats? opposite) => _reportedStream = opposite;

    /// <summary>Counts one datagram that passed through (the writer thread only). Allocation-free, never throws.</summary>
    /// <param name="datagram">The datagram as received.</param>
    /// <param name="arrivalMicros">Its arrival time in microseconds on any monotonic clock (the same for every call).</param>
    public RtpPacketVerdict OnRtp(ReadOnlySpan<byte> datagram, long arrivalMicros)
    {
        if (!RtpHeader.TryReadRtp(datagram, out var header)) return RtpPacketVerdict.NotRtp;
        var verdict = Count(header);
        if (verdict is RtpPacketVerdict.InOrder or RtpPacketVerdict.Reordered or RtpPacketVerdict.SequenceRestart or RtpPacketVerdict.NewSsrc)
            UpdateJitter(header, arrivalMicros, rebase: verdict is RtpPacketVerdict.SequenceRestart or RtpPacketVerdict.NewSsrc);
        Publish();
        return verdict;
    }

    /// <summary>
    /// Records the report blocks of an RTCP datagram that passed through (the writer thread only); returns how many
    /// were read. Nothing is read from a datagram that is not a valid compound (<see cref="RtcpReportReader.IsValid"/>).
    /// </summary>
    public int OnRtcp(ReadOnlySpan<byte> datagram, long arrivalMicros)
    {
        var reader = new RtcpReportReader(datagram);
        if (!reader.IsValidCompound) return 0;
        Volatile.Write(ref _version, _version + 1);
        Interlocked.MemoryBarrier(); // the slots are written plainly below: keep them after the odd version
        var count = 0;
        while (reader.TryNext(out var block))
        {
            count++;
            int match = -1, free = -1, oldest = -1;
            for (var i = 0; i < _reports.Length; i++)
            {
                ref readonly var s = ref _reports[i];
                if (s.Seen == 0) { if (free < 0) free = i; continue; }
                if (s.Block.SourceSsrc == block.SourceSsrc) { match = i; break; }
                if (oldest < 0 || s.ArrivalMicros < _reports[oldest].ArrivalMicros) oldest = i;
            }
            var slot = match >= 0 ? match : free >= 0 ? free : oldest;
            var seen = match >= 0 ? _reports[match].Seen + 1 : 1;
            _reports[slot] = new ReportSlot(block, arrivalMicros, seen);
        }
        Volatile.Write(ref _version, _version + 1);
        return count;
    }

    /// <summary>A copy of the figures, from any thread (see the class summary for what is guaranteed).</summary>
    public RtpQuality Snapshot()
    {
        var spin = new SpinWait();
        int flags = 0, payloadType = -1, clockRate = 0;
        uint ssrc = 0;
        long extendedHighest = 0, received = 0, expected = 0, duplicates = 0, reordered = 0, ssrcChanges = 0, restarts = 0, jumps = 0;
        double jitter = 0;
        var slots = new ReportSlot[MaxReportedSources];
        var consistent = false;
        for (var attempt = 0; attempt < SnapshotAttempts && !consistent; attempt++)
        {
            if (attempt > 0) spin.SpinOnce();
            var before = Volatile.Read(ref _version);
            flags = Volatile.Read(ref _pFlags);
            ssrc = Volatile.Read(ref _pSsrc);
            payloadType = Volatile.Read(ref _pPayloadType);
            clockRate = Volatile.Read(ref _pClockRate);
            extendedHighest = Volatile.Read(ref _pExtendedHighest);
            received = Volatile.Read(ref _pReceived);
            expected = Volatile.Read(ref _pExpected);
            duplicates = Volatile.Read(ref _pDuplicates);
            reordered = Volatile.Read(ref _pReordered);
            ssrcChanges = Volatile.Read(ref _pSsrcChanges);
            restarts = Volatile.Read(ref _pSequenceRestarts);
            jumps = Volatile.Read(ref _pTimestampJumps);
            jitter = Volatile.Read(ref _pJitter);
            _reports.AsSpan().CopyTo(slots);
            Interlocked.MemoryBarrier(); // every read above happens before the version is read again
            consistent = (before & 1) == 0 && Volatile.Read(ref _version) == before;
        }

        var hasStream = (flags & 1) != 0;
        var lost = Math.Clamp(expected - received, 0, Math.Max(expected, 0));
        var lossRatio = expected > 0 ? (double)lost / expected : 0;
        var format = payloadType >= 0 ? Formats.Lookup((byte)payloadType) : default;
        var codec = format.Codec ?? CodecImpairment.G711;
        var r = EModel.RFactor(lossRatio, jitter, codec);

        var (reportRate, reportRateAssumed) = ReportedClockRate(clockRate, (flags & 2) != 0);
        var reports = new List<RtcpReportFigures>(MaxReportedSources);
        foreach (var s in slots)
        {
            if (s.Seen == 0) continue;
            var b = s.Block;
            reports.Add(new RtcpReportFigures(b.ReporterSsrc, b.SourceSsrc, b.FractionLostRatio, b.CumulativeLost,
                b.ExtendedHighestSequence, b.Jitter, (double)b.Jitter / reportRate, reportRate, reportRateAssumed,
                s.ArrivalMicros, s.Seen));
        }

        return new RtpQuality(hasStream, ssrc, payloadType, extendedHighest, received, expected, lost, lossRatio, duplicates, reordered,
            ssrcChanges, restarts, jumps, jitter, clockRate, (flags & 2) != 0, codec, format.Codec is null, r,
            EModel.MosFromR(r), reports, consistent);
    }

    // ------------------------------------------------------------------------------------------------------------

    /// <summary>RFC 3550 A.1 update_seq, with the SSRC rules, duplicates and reordering.</summary>
    private RtpPacketVerdict Count(in RtpFixedHeader h)
    {
        var seq = h.Sequence;
        if (!_haveSsrc || (h.Ssrc != _ssrc && !_valid))
        {
            StartProbation(h.Ssrc, seq);
            return RtpPacketVerdict.Probation;
        }
        if (h.Ssrc != _ssrc)
        {
            if (_candidateCount > 0 && h.Ssrc == _candidateSsrc && seq == (ushort)(_candidateSeq + 1)) _candidateCount++;
            else { _candidateSsrc = h.Ssrc; _candidateCount = 1; }
            _candidateSeq = seq;
            if (_candidateCount < MinSequential) return RtpPacketVerdict.ForeignSsrc;
            var changes = _ssrcChanges + 1;
            Reset();
            _ssrcChanges = changes;
            _haveSsrc = true;
            _ssrc = h.Ssrc;
            Validate(seq);
            return RtpPacketVerdict.NewSsrc;
        }
        _candidateCount = 0; // the current SSRC goes on: a candidate must start over

        var udelta = (ushort)(seq - _maxSeq);
        if (_probation > 0)
        {
            if (seq == (ushort)(_maxSeq + 1))
            {
                _probation--;
                _maxSeq = seq;
                if (_probation == 0)
                {
                    Validate(seq);
                    return RtpPacketVerdict.InOrder;
                }
            }
            else
            {
                _probation = MinSequential - 1;
                _maxSeq = seq;
            }
            return RtpPacketVerdict.Probation;
        }
        if (udelta == 0)
        {
            _duplicates++;
            return RtpPacketVerdict.Duplicate;
        }
        if (udelta < MaxDropout)
        {
            if (seq < _maxSeq) _cycles += SeqMod; // wrapped
            _maxSeq = seq;
            ShiftWindow(udelta);
            _received++;
            return RtpPacketVerdict.InOrder;
        }
        if (udelta <= SeqMod - MaxMisorder)
        {
            if (seq != _badSeq)
            {
                _badSeq = (seq + 1) & (SeqMod - 1);
                return RtpPacketVerdict.Jump;
            }
            // Two packets in sequence after a jump: the sender restarted its sequence; count on from here.
            _expectedCarried += ExpectedInRun;
            _receivedCarried += _received;
            _sequenceRestarts++;
            InitSequence(seq);
            _received = 1;
            return RtpPacketVerdict.SequenceRestart;
        }
        var behind = SeqMod - udelta;         // 1 .. MaxMisorder
        var extended = _cycles + _maxSeq - behind;
        if (extended < _baseExt)
        {
            _reordered++;
            return RtpPacketVerdict.Late;
        }
        if (InWindow(behind))
        {
            _duplicates++;
            return RtpPacketVerdict.Duplicate;
        }
        MarkWindow(behind);
        _reordered++;
        _received++;
        return RtpPacketVerdict.Reordered;
    }

    private long ExpectedInRun => _cycles + _maxSeq - _baseExt + 1;

    private void StartProbation(uint ssrc, ushort seq)
    {
        // RFC 3550 A.1: init_seq, max_seq = seq − 1, probation = MIN_SEQUENTIAL, then update_seq for this packet.
        _haveSsrc = true;
        _valid = false;
        _ssrc = ssrc;
        _maxSeq = seq;
        _probation = MinSequential - 1;
        _candidateCount = 0;
        if (_probation == 0) Validate(seq);
    }

    private void Validate(ushort seq)
    {
        _valid = true;
        _probation = 0;
        InitSequence(seq);
        _received = 1;
    }

    private void InitSequence(ushort seq)
    {
        _maxSeq = seq;
        _cycles = 0;
        _baseExt = seq;
        _badSeq = SeqMod + 1;
        _windowLo = 1;
        _windowHi = 0;
    }

    private void Reset()
    {
        _haveSsrc = _valid = false;
        _probation = 0;
        _received = _expectedCarried = _receivedCarried = 0;
        _duplicates = _reordered = _sequenceRestarts = _timestampJumps = 0;
        _candidateCount = 0;
        _haveReference = false;
        _jitter = 0;
    }

    private void ShiftWindow(int by)
    {
        if (by >= WindowBits) { _windowLo = 0; _windowHi = 0; }
        else if (by >= 64) { _windowHi = _windowLo << (by - 64); _windowLo = 0; }
        else { _windowHi = (_windowHi << by) | (_windowLo >> (64 - by)); _windowLo <<= by; }
        _windowLo |= 1;
    }

    private bool InWindow(int behind) =>
        behind < 64 ? ((_windowLo >> behind) & 1) != 0 : ((_windowHi >> (behind - 64)) & 1) != 0;

    private void MarkWindow(int behind)
    {
        if (behind < 64) _windowLo |= 1UL << behind;
        else _windowHi |= 1UL << (behind - 64);
    }

    /// <summary>RFC 3550 A.8, in seconds, with the rules for timestamp jumps (class summary).</summary>
    private void UpdateJitter(in RtpFixedHeader h, long arrivalMicros, bool rebase)
    {
        var format = Formats.Lookup(h.PayloadType);
        if (format.IsEvent) return;
        var rate = format.ClockRate;
        _rateAssumed = rate == 0;
        if (rate == 0) rate = PayloadFormats.AssumedClockRate;
        _clockRate = rate;
        _lastPayloadType = h.PayloadType;

        var hadReference = _haveReference && !rebase && !h.Marker && rate == _referenceRate;
        var arrived = (arrivalMicros - _referenceArrival) / 1e6;
        var sent = (int)(h.Timestamp - _referenceTimestamp) / (double)rate;
        _haveReference = true;
        _referenceArrival = arrivalMicros;
        _referenceTimestamp = h.Timestamp;
        _referenceRate = rate;
        if (!hadReference) return;
        var d = Math.Abs(arrived - sent);
        if (d > MaxTransitJumpSeconds)
        {
            _timestampJumps++;
            return;
        }
        _jitter += (d - _jitter) / 16;
    }

    private void Publish()
    {
        Volatile.Write(ref _version, _version + 1);
        Volatile.Write(ref _pFlags, (_valid ? 1 : 0) | (_rateAssumed ? 2 : 0));
        Volatile.Write(ref _pSsrc, _valid ? _ssrc : 0);
        Volatile.Write(ref _pPayloadType, _lastPayloadType);
        Volatile.Write(ref _pClockRate, _clockRate);
        Volatile.Write(ref _pExtendedHighest, _valid ? _cycles + _maxSeq : 0);
        Volatile.Write(ref _pReceived, _valid ? _receivedCarried + _received : 0);
        Volatile.Write(ref _pExpected, _valid ? _expectedCarried + ExpectedInRun : 0);
        Volatile.Write(ref _pDuplicates, _duplicates);
        Volatile.Write(ref _pReordered, _reordered);
        Volatile.Write(ref _pSsrcChanges, _ssrcChanges);
        Volatile.Write(ref _pSequenceRestarts, _sequenceRestarts);
        Volatile.Write(ref _pTimestampJumps, _timestampJumps);
        Volatile.Write(ref _pJitter, _jitter);
        Volatile.Write(ref _version, _version + 1);
    }

    /// <summary>The clock rate of the stream the RTCP reports are about: the opposite stream's, else this one's, else assumed.</summary>
    private (int Rate, bool Assumed) ReportedClockRate(int ownRate, bool ownAssumed)
    {
        if (_reportedStream is { } other && other != this)
        {
            var rate = Volatile.Read(ref other._pClockRate);
            if (rate > 0) return (rate, (Volatile.Read(ref other._pFlags) & 2) != 0);
        }
        return ownRate > 0 ? (ownRate, ownAssumed) : (PayloadFormats.AssumedClockRate, true);
    }

    private readonly record struct ReportSlot(RtcpReportBlock Block, long ArrivalMicros, long Seen);
}

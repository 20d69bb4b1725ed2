using ActorRelay.Protocol;

namespace ActorRelay.Latching;

/// <summary>What the latch policy decided about one datagram.</summary>
public enum LatchVerdict : byte
{
    /// <summary>From the latched source: relay it.</summary>
    Accept,
    /// <summary>First latch of this side: relay it and tell the channel.</summary>
    Latched,
    /// <summary>The latch moved to this source: relay it and tell the channel.</summary>
    Moved,
    /// <summary>Mode auto: the latched source (taken by another protocol) sent RTP: relay it; the side now carries RTP.</summary>
    Confirmed,
    /// <summary>Drop: source is unspecified, multicast, broadcast or port 0.</summary>
    DropInvalidSource,
    /// <summary>Drop: not the latched source and the policy does not follow it.</summary>
    DropForeignSource,
    /// <summary>Drop: the source does not match the side's expected source.</summary>
    DropUnexpectedSource,
    /// <summary>Drop (mode Rtp): not RTP/RTCP and not from the latched source.</summary>
    DropNotRtp,
    /// <summary>Drop (mode Rtp): the source has not yet sent enough consecutive packets of one SSRC.</summary>
    DropProbation,
    /// <summary>Drop: a zero-length datagram from a source other than the latched one (it never takes or moves a latch).</summary>
    DropEmpty,
}

public static class LatchVerdicts
{
    public static bool Relays(this LatchVerdict v) => v <= LatchVerdict.Confirmed;
    public static bool ChangesLatch(this LatchVerdict v) => v is LatchVerdict.Latched or LatchVerdict.Moved;
    /// <summary>The sibling's view of this side's target must be built again (a new source, or a source now known to carry RTP).</summary>
    public static bool ChangesTarget(this LatchVerdict v) => v is LatchVerdict.Latched or LatchVerdict.Moved or LatchVerdict.Confirmed;

    public static DropReason ToDropReason(this LatchVerdict v) => v switch
    {
        LatchVerdict.DropInvalidSource => DropReason.InvalidSource,
        LatchVerdict.DropForeignSource => DropReason.ForeignSource,
        LatchVerdict.DropUnexpectedSource => DropReason.UnexpectedSource,
        LatchVerdict.DropNotRtp => DropReason.NotRtp,
        LatchVerdict.DropProbation => DropReason.Probation,
        LatchVerdict.DropEmpty => DropReason.Empty,
        _ => throw new ArgumentOutOfRangeException(nameof(v), v, "not a drop"),
    };
}

/// <summary>
/// The latch of one side: a pure, deterministic policy (time is passed in, never read), used by both
/// transports for every datagram; nothing here allocates. Single-threaded: only the side's receive path
/// calls <see cref="Offer"/>; a re-signal from another thread is handed over through <see cref="Resignal"/>
/// and applied at the next datagram.
/// <para>Semantics (docs/latching.md has the full table):</para>
/// <list type="bullet">
/// <item>Never latches to an invalid source, nor (when set) to a source outside the expected one; a zero-length
///   datagram never takes or moves a latch.</item>
/// <item>first: the first valid source latches; later sources are dropped, except that after a re-signal,
///   inside the learning window, the first new source moves the latch once.</item>
/// <item>rtp: only RTP latches, after <c>Probation</c> consecutive in-sequence packets of one SSRC from one
///   source. Once latched, a new source takes over only with the latched SSRC and a sequence number at most
///   <c>MaxSequenceJump</c> ahead of the highest seen (a NAT rebind; stale packets from the old source are
///   behind and never swing it back), or after a re-signal inside the window by passing probation.</item>
/// <item>auto (the default): the rtp rules for RTP and RTCP, and first's rules for any other protocol, with RTP
///   winning: a fresh side latches to the first source of another protocol provisionally (so a non-RTP symmetric
///   protocol is relayed), and an RTP source that passes probation takes the side over from it; once a side carries
///   RTP, no other protocol moves it. A side that carries RTP and a provisional one do not relay to each other (the
///   caller compares <see cref="CarriesRtp"/>), so junk sprayed before the clients start neither hears the call nor
///   reaches a client.</item>
/// <item>follow: every new source re-latches (the seed's behaviour; unsafe).</item>
/// </list>
/// </summary>
public sealed class SideLatch
{
    private readonly LatchPolicy _policy;
    private readonly long _windowMs;
    private SourceFilter? _expected;
    private long _windowEndsMs;
    private bool _relearn;              // a re-signal opened a window in which the latch may move once
    private PacketSource _current;
    private uint _ssrc;
    private ushort _highestSeq;
    private bool _haveSeq;
    private bool _rtpLatched;           // the latch was taken (or confirmed) by RTP
    // probation candidates (mode rtp): a few sources at once, so packets sprayed between the genuine
    // client's packets cannot keep resetting its probation; allocated only while a probation runs
    private const int CandidateSlots = 4;
    private Candidate[]? _candidates;
    private volatile PendingResignal? _pending;

    public SideLatch(LatchPolicy policy, long openedMs)
    {
        _policy = policy;
        _expected = policy.Expected;
        _windowMs = (long)policy.LearningWindow.TotalMilliseconds;
        _windowEndsMs = openedMs + _windowMs;
    }

    public LatchMode Mode => _policy.Mode;
    public bool IsLatched { get; private set; }
    /// <summary>The latched source; meaningful only when <see cref="IsLatched"/>.</summary>
    public PacketSource Current => _current;
    public SourceFilter? Expected => _pending?.Expected ?? _expected;

    /// <summary>False only in mode auto while the side is latched provisionally, by another protocol than RTP.</summary>
    public bool CarriesRtp => _policy.Mode != LatchMode.Auto || _rtpLatched;


    /// <summary>The latched SSRC when the side carries RTP; null otherwise.</summary>
    public uint? Ssrc => _rtpLatched && _haveSeq ? _ssrc : null;

    /// <summary>
    /// Puts back a latch recorded before the node restarted: the source (and, for an RTP side, its SSRC), locked as
    /// after its learning window. The sequence is not known any more: the source's next packet sets it.
    /// </summary>
    public void Restore(in PacketSource source, uint? ssrc, bool carriesRtp)
    {
        _current = source;
        IsLatched = true;
        _rtpLatched = carriesRtp && (_policy.Mode is LatchMode.Rtp or LatchMode.Auto);
        _ssrc = ssrc ?? 0;
        _haveSeq = false;
        _windowEndsMs = long.MinValue;
        _relearn = false;
    }

    /// <summary>
    /// The supervisor re-signalled this side (a re-INVITE): reopen learning for the window from <paramref name="nowMs"/>,
    /// and replace the expected source when one is given. Safe to call from any thread.
    /// </summary>
    public void Resignal(long nowMs, SourceFilter? expected) => _pending = new PendingResignal(nowMs, expected);

    public LatchVerdict Offer(in PacketSource source, ReadOnlySpan<byte> datagram, long nowMs)
    {
        if (_pending is { } p) Apply(p);
        if (!source.IsValidPeer) return LatchVerdict.DropInvalidSource;

        var mode = _policy.Mode;
        var isRtp = mode == LatchMode.Auto && RtpHeader.Classify(datagram, out _, out _) != RtpKind.NotRtp;
        if (IsLatched && source == _current)
        {
            if (mode == LatchMode.Rtp || isRtp && _rtpLatched) Track(datagram);
            else if (isRtp)
            {
                // the provisional source itself sends RTP: it proves itself like any RTP source (probation), or a
                // stranger whose junk latched the side first could confirm it with one RTP packet
                var kind = RtpHeader.Classify(datagram, out var ssrc, out var seq);
                return kind == RtpKind.Rtp ? Probation(source, ssrc, seq, nowMs) : LatchVerdict.DropProbation;
            }
            return LatchVerdict.Accept;
        }
        if (datagram.IsEmpty) return LatchVerdict.DropEmpty;
        if (_expected is { } e && !e.Matches(source)) return LatchVerdict.DropUnexpectedSource;

        var inWindow = nowMs < _windowEndsMs;
        switch (mode)
        {
            case LatchMode.Follow:
                return Take(source, 0, 0, false);

            case LatchMode.First:
                if (!IsLatched) return Take(source, 0, 0, false);
                if (_relearn && inWindow) return Take(source, 0, 0, false);
                return LatchVerdict.DropForeignSource;

            case LatchMode.Auto when !isRtp:
                if (!IsLatched) return Take(source, 0, 0, false);     // provisional: any protocol, until RTP proves itself
                if (_rtpLatched) return LatchVerdict.DropNotRtp;      // another protocol never moves an RTP side
                if (_relearn && inWindow) return Take(source, 0, 0, false);
                return LatchVerdict.DropForeignSource;

            default: // Rtp, and Auto for RTP/RTCP
                var kind = RtpHeader.Classify(datagram, out var ssrc, out var seq);
                if (kind == RtpKind.NotRtp) return LatchVerdict.DropNotRtp;
                var rtpLatched = IsLatched && (mode == LatchMode.Rtp || _rtpLatched);
                if (rtpLatched && kind == RtpKind.Rtp && ssrc == _ssrc && _haveSeq)
                {
                    var ahead = RtpHeader.Ahead(seq, _highestSeq);
                    if (ahead >= 1 && ahead <= _policy.MaxSequenceJump) return Take(source, ssrc, seq, true);
                }
                if (rtpLatched && !(_relearn && inWindow)) return LatchVerdict.DropForeignSource;
                if (kind != RtpKind.Rtp) return LatchVerdict.DropProbation; // RTCP carries no sequence to prove itself
                return Probation(source, ssrc, seq, nowMs);
        }
    }

    private LatchVerdict Probation(in PacketSource source, uint ssrc, ushort seq, long nowMs)
    {
        var candidates = _candidates ??= new Candidate[CandidateSlots];
        var slot = -1;
        var free = -1;
        var oldest = 0;
        for (var i = 0; i < CandidateSlots; i++)
        {
            ref var c = ref candidates[i];
            if (c.Count > 0 && c.Source == source) { slot = i; break; }
            if (c.Count == 0) { if (free < 0) free = i; }
            else if (c.LastMs < candidates[oldest].LastMs) oldest = i;
        }
        if (slot < 0)
        {
            slot = free >= 0 ? free : oldest; // a new source takes a free slot, else the stalest one
            candidates[slot] = new Candidate { Source = source, Ssrc = ssrc, Seq = seq, Count = 1, LastMs = nowMs };
        }
        else
        {
            ref var c = ref candidates[slot];
            c.Count = c.Ssrc == ssrc && seq == (ushort)(c.Seq + 1) ? c.Count + 1 : 1;
            c.Ssrc = ssrc;
            c.Seq = seq;
            c.LastMs = nowMs;
        }
        if (candidates[slot].Count < Math.Max(1, _policy.Probation)) return LatchVerdict.DropProbation;
        _candidates = null; // latched: no probation runs until a re-signal
        return Take(source, ssrc, seq, true);
    }

    private struct Candidate
    {
        public PacketSource Source;
        public uint Ssrc;
        public ushort Seq;
        public int Count;
        public long LastMs;
    }

    private LatchVerdict Take(in PacketSource source, uint ssrc, ushort seq, bool hasSeq)
    {
        var verdict = !IsLatched ? LatchVerdict.Latched : source == _current ? LatchVerdict.Confirmed : LatchVerdict.Moved;
        _current = source;
        IsLatched = true;
        _rtpLatched = hasSeq;
        _relearn = false; // a re-signal moves the latch at most once
        if (hasSeq)
        {
            _ssrc = ssrc;
            _highestSeq = seq;
            _haveSeq = true;
        }
        return verdict;
    }

    /// <summary>From the latched source: follow its SSRC and highest sequence number (a new SSRC from it is adopted).</summary>
    private void Track(ReadOnlySpan<byte> datagram)
    {
        if (RtpHeader.Classify(datagram, out var ssrc, out var seq) != RtpKind.Rtp) return;
        if (!_haveSeq || ssrc != _ssrc)
        {
            _ssrc = ssrc;
            _highestSeq = seq;
            _haveSeq = true;
            return;
        }
        var ahead = RtpHeader.Ahead(seq, _highestSeq);
        if (ahead is >= 1 and < 32768) _highestSeq = seq;
    }

    private void Apply(PendingResignal p)
    {
        _pending = null;
        _windowEndsMs = p.AtMs + _windowMs;
        if (p.Expected is not null) _expected = p.Expected;
        _relearn = true;
        _candidates = null;
    }

    private sealed record PendingResignal(long AtMs, SourceFilter? Expected);
}

using System.Buffers.Binary;
using System.Net;
using ActorRelay.Latching;
using ActorRelay.Protocol;

// Shared by the CsCheck properties (tests/ActorRelay.Tests/Properties) and the fuzz targets "latch" and "channel"
// (tests/ActorRelay.Fuzz links this file): the latch's promises as checks that throw, so a generated or fuzzed run
// that breaks one fails the same way in both. Nothing here depends on a test framework.
namespace ActorRelay.Tests.Properties;

/// <summary>A run of the latch broke one of its promises (docs/latching.md).</summary>
public sealed class LatchInvariantException(string message) : Exception(message);

/// <summary>What a step of a single side's script sends (or, <see cref="Resignal"/>, does).</summary>
public enum Shape : byte
{
    Empty, Junk, Stun, Dtls,
    /// <summary>RTP: the SSRC's next sequence number.</summary>
    RtpNext,
    /// <summary>RTP: the SSRC's last sequence number again.</summary>
    RtpRepeat,
    /// <summary>RTP: 1..600 behind the SSRC's last sequence number (a stale packet; the counter stays).</summary>
    RtpBehind,
    /// <summary>RTP: 1..1200 ahead of the SSRC's last sequence number (across the 536 limit).</summary>
    RtpAhead,
    /// <summary>RTP: any sequence number.</summary>
    RtpAnySeq,
    Rtcp,
    /// <summary>Well-formed RTP with SSRC 0 (never latches).</summary>
    RtpSsrcZero,
    /// <summary>Not a datagram: the supervisor re-signals the side, with the expected source <see cref="LatchStep.Filter"/>.</summary>
    Resignal,
}

/// <summary>
/// One step of a single side's script: a datagram of <paramref name="Shape"/> from source <paramref name="Source"/>
/// (an index into <see cref="LatchPools.Sources"/>) with SSRC <paramref name="Ssrc"/> (an index into
/// <see cref="LatchPools.Ssrcs"/>), after <paramref name="AdvanceMs"/>; <paramref name="Value"/> sizes a jump or gives a
/// sequence number; <paramref name="Payload"/> is the junk datagram; <paramref name="Filter"/> (index into
/// <see cref="LatchPools.Filters"/>, 0 = none) is a re-signal's expected source.
/// </summary>
public sealed record LatchStep(Shape Shape, int Source, int Ssrc, int Value, int AdvanceMs, byte[] Payload, int Filter = 0)
{
    public override string ToString() => Shape == Shape.Resignal
        ? $"+{AdvanceMs}ms resignal({LatchPools.Filters[Filter]?.Text ?? "-"})"
        : $"+{AdvanceMs}ms {LatchPools.Sources[Source]} {Shape} ssrc#{Ssrc} v={Value}{(Shape == Shape.Junk ? $" [{Convert.ToHexString(Payload)}]" : "")}";
}

/// <summary>The addresses, SSRCs and expected sources scripts choose from: few, so that they collide.</summary>
public static class LatchPools
{
    public static PacketSource Src(string ip, int port) => PacketSource.From(new IPEndPoint(IPAddress.Parse(ip), port));

    /// <summary>Valid sources first (<see cref="ValidSources"/> of them), then invalid ones: port 0, 0.0.0.0/8, multicast, broadcast, ::.</summary>
    public static readonly PacketSource[] Sources =
    [
        Src("198.51.100.10", 4000), Src("198.51.100.10", 4002), Src("198.51.100.99", 4000), Src("203.0.113.66", 31337),
        Src("2001:db8::1", 4000), Src("2001:db8::2", 5004), Src("::ffff:198.51.100.10", 4004),
        Src("198.51.100.10", 0), Src("0.0.0.0", 4000), Src("0.1.2.3", 4000), Src("224.0.0.1", 5004),
        Src("239.255.255.250", 1900), Src("255.255.255.255", 4000), Src("::", 4000), Src("ff02::1", 4000), Src("2001:db8::1", 0),
    ];

    public const int ValidSources = 7;

    public static readonly uint[] Ssrcs = [0x11111111, 0x22222222, 0x33333333, 0xDEADBEEF];

    public static readonly SourceFilter?[] Filters =
    [
        null, Filter("198.51.100.10"), Filter("198.51.100.10:4000"), Filter("198.51.100.0/24"), Filter("2001:db8::/32"),
        Filter("[2001:db8::1]:4000"), Filter("0.0.0.0/0"), Filter("::/0"), Filter("203.0.113.66:31337"), Filter("192.0.2.1"),
    ];

    public static SourceFilter Filter(string text) =>
        SourceFilter.TryParse(text, out var f, out var e) ? f! : throw new ArgumentException(e);
}

/// <summary>Datagrams of each kind a script sends.</summary>
public static class Datagrams
{
    public static byte[] Rtp(ushort seq, uint ssrc, int payload = 20)
    {
        var p = new byte[12 + payload];
        p[0] = 0x80;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), seq);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), seq * 160u);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), ssrc);
        return p;
    }

    /// <summary>An empty receiver report (RFC 3550 §6.4.2): header and sender SSRC.</summary>
    public static byte[] Rtcp(uint ssrc)
    {
        var p = new byte[] { 0x80, 201, 0, 1, 0, 0, 0, 0 };
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), ssrc);
        return p;
    }

    /// <summary>A STUN binding request (RFC 5389).</summary>
    public static byte[] Stun()
    {
        var p = new byte[20];
        p[1] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), PacketDemux.StunMagicCookie);
        return p;
    }

    /// <summary>The start of a DTLS ClientHello record.</summary>
    public static byte[] Dtls() => [22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 1, 2, 3];
}

/// <summary>
/// A <see cref="SideLatch"/> that checks, after every datagram, what the latch promises, against a small model kept
/// beside it (what the supervisor did, the side's SSRC and highest sequence number, and how far each source has come
/// in probation). Throws <see cref="LatchInvariantException"/> on the first broken promise:
/// <list type="bullet">
/// <item>verdicts agree with the state: a relayed datagram's source is Current afterwards; a dropped one changes
/// nothing; Latched/Moved/Confirmed/Accept mean what they say;</item>
/// <item>never latched to (Current never is) an unspecified, multicast or broadcast address or port 0, and such a
/// source always gets DropInvalidSource;</item>
/// <item>an empty datagram never changes the latch;</item>
/// <item>with an expected source set, no source outside it becomes Current;</item>
/// <item>modes rtp and auto: a side becomes RTP-carrying only through a source that sent <c>Probation</c> consecutive
/// in-sequence RTP packets of one SSRC; once it carries RTP, another source takes over only with the side's SSRC and a
/// sequence number 1..MaxSequenceJump ahead of the highest seen (so never a stale packet, never another SSRC), or, inside
/// the window of a re-signal and before the latch moved since, by passing probation; an RTP side never goes back to
/// provisional;</item>
/// <item>first (and auto's provisional latch): the latch moves only inside a re-signal's window, once.</item>
/// </list>
/// </summary>
public sealed class CheckedSideLatch
{
    private readonly LatchPolicy _policy;
    private readonly long _windowMs;
    private readonly Dictionary<PacketSource, (uint Ssrc, ushort Seq, int Count)> _runs = [];
    private (long At, SourceFilter? Expected)? _pending;
    private SourceFilter? _expected;
    private long _windowEndsMs;
    private bool _relearn;
    private bool _haveSeq;
    private uint _ssrc;
    private ushort _highest;

    /// <param name="policy">The policy whose promises are checked.</param>
    /// <param name="latchPolicy">The policy the latch really runs, when it differs (only to prove that the checks catch a
    /// latch looser than the promised policy); by default <paramref name="policy"/>.</param>
    public CheckedSideLatch(LatchPolicy policy, long openedMs, string name = "side", LatchPolicy? latchPolicy = null)
    {
        _policy = policy;
        Name = name;
        Latch = new SideLatch(latchPolicy ?? policy, openedMs);
        _expected = policy.Expected;
        _windowMs = (long)policy.LearningWindow.TotalMilliseconds;
        _windowEndsMs = openedMs + _windowMs;
    }

    public string Name { get; }
    public SideLatch Latch { get; }
    public List<LatchVerdict> Verdicts { get; } = [];

    public void Resignal(long nowMs, SourceFilter? expected)
    {
        Latch.Resignal(nowMs, expected);
        _pending = (nowMs, expected);
    }

    public LatchVerdict Offer(PacketSource source, byte[] datagram, long nowMs)
    {
        if (_pending is { } p)
        {
            _pending = null;
            _relearn = true;
            _windowEndsMs = p.At + _windowMs;
            if (p.Expected is not null) _expected = p.Expected;
            _runs.Clear();
        }
        var mode = _policy.Mode;
        var rtpAware = mode is LatchMode.Rtp or LatchMode.Auto;
        var probation = Math.Max(1, _policy.Probation);
        var (wasLatched, was, carried) = (Latch.IsLatched, Latch.Current, Latch.CarriesRtp);
        var kind = RtpHeader.Classify(datagram, out var ssrc, out var seq);
        var inWindow = nowMs < _windowEndsMs;
        var tracked = wasLatched && source == was && carried; // the latched source of an RTP side: tracked, not in probation
        var run = 0;
        if (source.IsValidPeer && kind == RtpKind.Rtp && !tracked)
        {
            run = _runs.TryGetValue(source, out var r) && r.Ssrc == ssrc && seq == (ushort)(r.Seq + 1) ? r.Count + 1 : 1;
            _runs[source] = (ssrc, seq, run);
        }

        var verdict = Latch.Offer(source, datagram, nowMs);
        Verdicts.Add(verdict);
        var (latched, current, carries) = (Latch.IsLatched, Latch.Current, Latch.CarriesRtp);
        var moved = latched && (!wasLatched || current != was);
        string What() => $"{Name} ({mode}, probation {_policy.Probation}, jump {_policy.MaxSequenceJump}, window {_windowMs} ms): " +
                         $"{verdict} for {datagram.Length} bytes ({kind}, ssrc {ssrc:x8}, seq {seq}) from {source} at {nowMs} ms, " +
                         $"latched {wasLatched}->{latched}, current {(wasLatched ? was.ToString() : "-")}->{(latched ? current.ToString() : "-")}, rtp {carried}->{carries}";
        void Check(bool ok, string promise)
        {
            if (!ok) throw new LatchInvariantException($"{promise}: {What()}");
        }

        // verdicts agree with the state
        if (verdict.Relays()) Check(latched && current == source, "a relayed datagram comes from the latched source");
        else Check(latched == wasLatched && (!latched || current == was) && carries == carried, "a dropped datagram changes nothing");
        Check(verdict != LatchVerdict.Accept || (wasLatched && source == was && carries == carried), "Accept: from the latched source, nothing changes");
        Check(verdict != LatchVerdict.Latched || !wasLatched, "Latched: only a fresh side");
        Check(verdict != LatchVerdict.Moved || (wasLatched && source != was), "Moved: to another source");
        Check(verdict != LatchVerdict.Confirmed || (wasLatched && source == was && !carried && carries), "Confirmed: the provisional source now carries RTP");
        Check(verdict.ChangesLatch() == moved, "the verdict says whether the latch changed");

        // invalid sources
        if (!source.IsValidPeer) Check(verdict == LatchVerdict.DropInvalidSource, "an invalid source is dropped as such");
        Check(!latched || current.IsValidPeer, "never latched to an invalid source");

        // empty datagrams
        if (datagram.Length == 0)
            Check(latched == wasLatched && (!latched || current == was) && carries == carried
                  && verdict is LatchVerdict.Accept or LatchVerdict.DropEmpty or LatchVerdict.DropInvalidSource,
                "an empty datagram never changes the latch");

        // the expected source
        if (moved && _expected is { } e) Check(e.Matches(current), $"no source outside the expected {e} becomes current");

        if (rtpAware)
        {
            // a side becomes RTP-carrying only by probation
            if (latched && carries && !(wasLatched && carried))
                Check(kind == RtpKind.Rtp && run >= probation, $"a side carries RTP only after a probation of {probation} (this source: {run})");
            if (wasLatched && carried)
            {
                Check(carries && latched, "an RTP side stays an RTP side");
                if (moved)
                {
                    var ahead = _haveSeq ? RtpHeader.Ahead(seq, _highest) : 0;
                    var rebind = kind == RtpKind.Rtp && _haveSeq && ssrc == _ssrc && ahead >= 1 && ahead <= _policy.MaxSequenceJump;
                    var relearned = _relearn && inWindow && kind == RtpKind.Rtp && run >= probation;
                    Check(rebind || relearned,
                        $"an RTP side (ssrc {_ssrc:x8}, highest {_highest}) moves only to its own SSRC 1..{_policy.MaxSequenceJump} ahead, " +
                        $"or by probation in a re-signal's window (window {(_relearn && inWindow ? "open" : "closed")}, run {run})");
                }
            }
        }
        if (moved && wasLatched && (mode == LatchMode.First || mode == LatchMode.Auto && !carries))
            Check(_relearn && inWindow, "first's rules: the latch moves only once inside a re-signal's window");

        // the model follows the latch
        if (verdict is LatchVerdict.Latched or LatchVerdict.Moved or LatchVerdict.Confirmed) _relearn = false;
        if (rtpAware && kind == RtpKind.Rtp && verdict.Relays())
        {
            if (verdict != LatchVerdict.Accept || !_haveSeq || ssrc != _ssrc)
            {
                _ssrc = ssrc;
                _highest = seq;
                _haveSeq = true;
            }
            else if (RtpHeader.Ahead(seq, _highest) is >= 1 and < 32768) _highest = seq;
        }
        return verdict;
    }
}

/// <summary>Plays a single side's script on a <see cref="CheckedSideLatch"/> (opened at 0 ms).</summary>
public static class LatchScript
{
    public static CheckedSideLatch Run(LatchPolicy policy, IReadOnlyList<LatchStep> steps, LatchPolicy? latchPolicy = null)
    {
        var latch = new CheckedSideLatch(policy, 0, latchPolicy: latchPolicy);
        var seqs = new Dictionary<uint, ushort>();
        long now = 0;
        foreach (var step in steps)
        {
            now += step.AdvanceMs;
            if (step.Shape == Shape.Resignal)
            {
                latch.Resignal(now, LatchPools.Filters[step.Filter % LatchPools.Filters.Length]);
                continue;
            }
            var source = LatchPools.Sources[step.Source % LatchPools.Sources.Length];
            latch.Offer(source, Datagram(step, seqs), now);
        }
        return latch;
    }

    /// <summary>The datagram of a step; sequence numbers run per SSRC, so a source that takes over an SSRC continues it.</summary>
    public static byte[] Datagram(LatchStep step, Dictionary<uint, ushort> seqs)
    {
        var ssrc = LatchPools.Ssrcs[step.Ssrc % LatchPools.Ssrcs.Length];
        seqs.TryGetValue(ssrc, out var last);
        var value = step.Value & 0xFFFF;
        switch (step.Shape)
        {
            case Shape.Empty: return [];
            case Shape.Junk: return step.Payload;
            case Shape.Stun: return Datagrams.Stun();
            case Shape.Dtls: return Datagrams.Dtls();
            case Shape.Rtcp: return Datagrams.Rtcp(ssrc);
            case Shape.RtpSsrcZero: return Datagrams.Rtp(last, 0);
            case Shape.RtpRepeat: return Datagrams.Rtp(last, ssrc);
            case Shape.RtpBehind: return Datagrams.Rtp((ushort)(last - 1 - value % 600), ssrc);
        }
        var seq = step.Shape switch
        {
            Shape.RtpNext => (ushort)(last + 1),
            Shape.RtpAhead => (ushort)(last + 1 + value % 1200),
            _ => (ushort)value,
        };
        seqs[ssrc] = seq;
        return Datagrams.Rtp(seq, ssrc);
    }
}

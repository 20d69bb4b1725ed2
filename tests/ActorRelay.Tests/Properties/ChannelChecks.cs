using ActorRelay.Latching;
using ActorRelay.Protocol;

// Shared by the CsCheck properties and the fuzz target "channel" (see LatchChecks.cs).
namespace ActorRelay.Tests.Properties;

/// <summary>When the stranger of a channel script may send, and what.</summary>
public enum StrangerTiming
{
    /// <summary>
    /// Only once both sides are latched to their clients (and, in modes rtp and auto, carry RTP); before that its steps
    /// are skipped. It sends anything, well-formed RTP streams of its own SSRCs included (any SSRC but the clients').
    /// </summary>
    AfterLatch,
    /// <summary>
    /// At any time, before the clients' first packet too. It sends junk (random bytes, empty, STUN, DTLS) and RTP/RTCP
    /// whose every packet has a fresh SSRC (a random spray, not a stream): it never repeats an SSRC, nor uses a client's.
    /// The script's probation is at least 2.
    /// </summary>
    Spray,
}

public enum ChannelAct : byte
{
    /// <summary>The side's client sends its next RTP packet (its one SSRC, the next sequence number) from its current port.</summary>
    ClientSends,
    /// <summary>The side's client's NAT gives it another port (same address, same SSRC; its sequence continues).</summary>
    ClientRebinds,
    /// <summary>The side's client sends a STUN keep-alive from its current port (under a spray, only once its side carries RTP).</summary>
    ClientKeepalive,
    /// <summary>The supervisor re-signals the side with the client's address (no port) as expected source.</summary>
    Resignal,
    /// <summary>The stranger sends <see cref="ChannelStep.Shape"/> to the side from its address <see cref="ChannelStep.Stranger"/>.</summary>
    Stranger,
}

public sealed record ChannelStep(ChannelAct Act, Side Side, int AdvanceMs, int Stranger = 0, Shape Shape = Shape.Junk, int Value = 0, byte[]? Payload = null)
{
    public override string ToString() => Act == ChannelAct.Stranger
        ? $"+{AdvanceMs}ms stranger#{Stranger}->{Side} {Shape} v={Value}{(Shape == Shape.Junk ? $" [{Convert.ToHexString(Payload ?? [])}]" : "")}"
        : $"+{AdvanceMs}ms {Act} {Side}";
}

/// <summary>A two-sided script: two genuine clients (left, right) that talk RTP, and a stranger.</summary>
public sealed record ChannelScript(LatchMode Mode, StrangerTiming Timing, int Probation, int MaxSequenceJump, int WindowMs,
    ushort LeftFirstSeq, ushort RightFirstSeq, bool RightIsIPv6, IReadOnlyList<ChannelStep> Steps)
{
    public override string ToString() =>
        $"{Mode} {Timing} probation {Probation} jump {MaxSequenceJump} window {WindowMs} ms seq {LeftFirstSeq}/{RightFirstSeq} right {(RightIsIPv6 ? "IPv6" : "IPv4")}:\n  " +
        string.Join("\n  ", Steps);
}

/// <summary>What happened to one datagram of a channel script: the side's verdict and where the relay sent it (null: nowhere).</summary>
public readonly record struct Delivery(Side Side, bool FromClient, LatchVerdict Verdict, PacketSource? To);

/// <summary>
/// A relay channel reduced to its latching: two <see cref="CheckedSideLatch"/> (every single-side promise is checked
/// on both) and the relay rule of the data path: a datagram admitted by one side goes to the other side's latched source
/// only when that side is latched, both sides agree on carrying RTP, and it is not the datagram's own source.
/// <para>On top, what a stranger can do (modes auto, rtp and first; mode follow promises nothing, and a follow script
/// with timing AfterLatch fails as soon as the stranger's packet is followed):</para>
/// <list type="bullet">
/// <item><see cref="StrangerTiming.AfterLatch"/>, in auto, rtp and first: the stranger is never the destination nor the
/// source of a relayed datagram; and (auto and rtp, with a sequence jump of at least 1) every RTP packet a client sends
/// once both sides latched reaches the other client (the stranger cannot disturb the call, NAT rebinds included); in
/// first, every client packet the latch admits reaches the other client.</item>
/// <item><see cref="StrangerTiming.Spray"/>, in auto and rtp, with clients that start with RTP (a client's
/// keep-alives come only once its side carries RTP): no client's datagram ever reaches the stranger and no
/// stranger's datagram ever reaches a client (in auto the stranger's junk may latch fresh sides provisionally and be
/// relayed between two such sides, back to the stranger); in rtp the stranger never latches a side, so nothing it sends
/// is relayed and nothing reaches it.</item>
/// </list>
/// Re-signals carry the client's address (no port) as expected source, which the stranger's addresses never match.
/// </summary>
public static class ChannelChecks
{
    public static readonly uint LeftSsrc = 0x11111111, RightSsrc = 0x22222222;
    /// <summary>SSRCs of the stranger's streams (timing AfterLatch).</summary>
    public static readonly uint[] StrangerSsrcs = [0xBAD00001, 0xBAD00002, 0x11111112];

    public static readonly PacketSource[] StrangerAddresses =
    [
        LatchPools.Src("203.0.113.66", 31337), LatchPools.Src("203.0.113.66", 31338), LatchPools.Src("203.0.113.77", 4000),
        LatchPools.Src("2001:db8:bad::1", 4000), LatchPools.Src("192.0.2.20", 4000),
    ];

    private static string LeftIp => "198.51.100.10";
    private static string RightIp(bool v6) => v6 ? "2001:db8::20" : "198.51.100.20";

    public static IReadOnlyList<Delivery> Run(ChannelScript script)
    {
        if (script.Timing == StrangerTiming.Spray && script.Probation < 2)
            throw new ArgumentException("a spray script needs a probation of at least 2", nameof(script));
        var policy = new LatchPolicy(script.Mode, TimeSpan.FromMilliseconds(script.WindowMs), script.Probation, script.MaxSequenceJump);
        var left = new CheckedSideLatch(policy, 0, "left");
        var right = new CheckedSideLatch(policy, 0, "right");
        var rightIp = RightIp(script.RightIsIPv6);
        var clients = new[] { new Client(LeftIp, LeftSsrc, script.LeftFirstSeq), new Client(rightIp, RightSsrc, script.RightFirstSeq) };
        var filters = new[] { LatchPools.Filter(LeftIp), LatchPools.Filter(rightIp) };
        var strangerSeqs = new Dictionary<uint, ushort>();
        uint sprayedSsrc = 0x50000000;
        var log = new List<Delivery>();
        var started = false;
        long now = 0;
        string Context() => $"{script}\n  after {log.Count} datagrams";

        foreach (var step in script.Steps)
        {
            now += step.AdvanceMs;
            var i = step.Side == Side.Left ? 0 : 1;
            var (side, other) = i == 0 ? (left, right) : (right, left);
            var client = clients[i];
            started = started || IsStarted(left, clients[0], script.Mode) && IsStarted(right, clients[1], script.Mode);
            switch (step.Act)
            {
                case ChannelAct.Resignal:
                    side.Resignal(now, filters[i]);
                    break;
                case ChannelAct.ClientRebinds:
                    client.Rebind();
                    break;
                case ChannelAct.ClientKeepalive:
                    // clients start with RTP: under a spray, a keep-alive only once the client's side carries RTP
                    if (script.Timing == StrangerTiming.Spray && !IsStarted(side, client, script.Mode)) break;
                    Relay(Datagrams.Stun(), client.Address, isClient: true, isRtp: false);
                    break;
                case ChannelAct.ClientSends:
                    Relay(Datagrams.Rtp(client.NextSeq(), client.Ssrc), client.Address, isClient: true, isRtp: true);
                    break;
                case ChannelAct.Stranger:
                    if (script.Timing == StrangerTiming.AfterLatch && !started) break;
                    var from = StrangerAddresses[step.Stranger % StrangerAddresses.Length];
                    Relay(StrangerDatagram(step), from, isClient: false, isRtp: false);
                    break;
            }

            void Relay(byte[] datagram, PacketSource from, bool isClient, bool isRtp)
            {
                var verdict = side.Offer(from, datagram, now);
                PacketSource? to = null;
                if (verdict.Relays() && other.Latch.IsLatched && other.Latch.CarriesRtp == side.Latch.CarriesRtp && other.Latch.Current != from)
                    to = other.Latch.Current;
                log.Add(new Delivery(step.Side, isClient, verdict, to));
                if (to is not { } target) Check(!isClient || !started || !MustArrive(verdict, isRtp), "a client's packet reaches the other client once both latched");
                else
                {
                    var toStranger = StrangerAddresses.Contains(target);
                    var toClient = clients[1 - i].Owns(target);
                    Check(toStranger != toClient, "a relayed datagram goes to a client or a stranger, not both"); // the pools are disjoint
                    Check(!isClient || !started || toClient, "a client's packet reaches the other client once both latched");
                    if (script.Timing == StrangerTiming.AfterLatch) // checked in follow too: there it fails (see the tests)
                        Check(isClient && toClient, "after both sides latched, the stranger neither receives nor sends through the relay");
                    if (script.Timing == StrangerTiming.Spray && script.Mode is LatchMode.Auto or LatchMode.Rtp)
                    {
                        Check(isClient == toClient, "a client's datagram never reaches the stranger, a stranger's never reaches a client");
                        if (script.Mode == LatchMode.Rtp) Check(isClient, "mode rtp: a spray never latches a side");
                    }
                }
            }

            bool MustArrive(LatchVerdict verdict, bool isRtp) => script.Mode switch
            {
                LatchMode.Auto or LatchMode.Rtp => isRtp && script.MaxSequenceJump >= 1 && script.Timing == StrangerTiming.AfterLatch,
                LatchMode.First => verdict.Relays() && script.Timing == StrangerTiming.AfterLatch,
                _ => false,
            };

            byte[] StrangerDatagram(ChannelStep s)
            {
                if (script.Timing == StrangerTiming.Spray)
                {
                    // a spray: every RTP/RTCP packet a fresh SSRC (never a client's: those are below 0x50000000)
                    var fresh = sprayedSsrc++;
                    return s.Shape switch
                    {
                        Shape.Empty => [],
                        Shape.Stun => Datagrams.Stun(),
                        Shape.Dtls => Datagrams.Dtls(),
                        Shape.Rtcp => Datagrams.Rtcp(fresh),
                        Shape.RtpSsrcZero => Datagrams.Rtp((ushort)s.Value, 0),
                        >= Shape.RtpNext and <= Shape.RtpAnySeq => Datagrams.Rtp((ushort)s.Value, fresh),
                        _ => JunkNotRtpOfAClient(s.Payload ?? []),
                    };
                }
                var ssrc = StrangerSsrcs[s.Value % StrangerSsrcs.Length];
                strangerSeqs.TryGetValue(ssrc, out var last);
                switch (s.Shape)
                {
                    case Shape.Empty: return [];
                    case Shape.Stun: return Datagrams.Stun();
                    case Shape.Dtls: return Datagrams.Dtls();
                    case Shape.Rtcp: return Datagrams.Rtcp(ssrc);
                    case Shape.RtpSsrcZero: return Datagrams.Rtp(last, 0);
                    case Shape.RtpRepeat or Shape.RtpBehind: return Datagrams.Rtp(last, ssrc);
                    case >= Shape.RtpNext and <= Shape.RtpAnySeq:
                        var seq = s.Shape == Shape.RtpNext ? (ushort)(last + 1) : (ushort)(last + 1 + (s.Value >> 2) % 1200);
                        strangerSeqs[ssrc] = seq;
                        return Datagrams.Rtp(seq, ssrc);
                    default: return JunkNotRtpOfAClient(s.Payload ?? []);
                }
            }

            void Check(bool ok, string promise)
            {
                if (!ok) throw new LatchInvariantException($"{promise}\n{Context()}\n  last: {log[^1]}");
            }
        }
        return log;
    }

    /// <summary>Junk bytes, except that junk which happens to be RTP or RTCP of a client's SSRC gets another SSRC (the stranger does not know it).</summary>
    private static byte[] JunkNotRtpOfAClient(byte[] junk)
    {
        var kind = RtpHeader.Classify(junk, out var ssrc, out _);
        if (kind == RtpKind.NotRtp || ssrc != LeftSsrc && ssrc != RightSsrc) return junk;
        var copy = (byte[])junk.Clone();
        copy[kind == RtpKind.Rtp ? 8 : 4] ^= 0x80;
        return copy;
    }

    private static bool IsStarted(CheckedSideLatch side, Client client, LatchMode mode) =>
        side.Latch.IsLatched && client.Owns(side.Latch.Current) && (mode == LatchMode.First || side.Latch.CarriesRtp);

    private sealed class Client(string ip, uint ssrc, ushort firstSeq)
    {
        private readonly List<PacketSource> _addresses = [LatchPools.Src(ip, 4000)];
        private ushort _seq = (ushort)(firstSeq - 1);

        public uint Ssrc => ssrc;
        public PacketSource Address => _addresses[^1];
        public bool Owns(PacketSource source) => _addresses.Contains(source);
        public void Rebind() => _addresses.Add(LatchPools.Src(ip, 4000 + 2 * _addresses.Count));
        public ushort NextSeq() => ++_seq;
    }
}

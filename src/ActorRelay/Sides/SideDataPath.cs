using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ActorRelay.Counters;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using ActorRelay.Quality;

namespace ActorRelay.Sides;

/// <summary>
/// What a channel sees of one side's data path, whatever the transport (the seam; threading in README.md here):
/// the side's counters and latched target to read, a re-signal to hand over, and the sibling to connect once.
/// </summary>
internal interface ISideDataPath
{
    Side Side { get; }

    /// <summary>Written by the side's receive path only; read from any thread.</summary>
    SideCounters Counters { get; }

    /// <summary>Where the sibling relays to (this side's latched source); null until latched. Read from any thread.</summary>
    LatchedTarget? Target { get; }

    /// <summary>Reopens learning (a re-INVITE). Any thread: handed over to the receive path, applied at the next datagram.</summary>
    void Resignal(long nowMs, SourceFilter? expected);

    /// <summary>The quality of the RTP stream the side receives (quality on, after its first RTP packet), else null. Any thread.</summary>
    RtpStreamStats? Quality { get; }

    /// <summary>
    /// Connects this side to its sibling: called once, by the channel, for both sides before either side starts
    /// relaying; the sibling must be of the same transport.
    /// </summary>
    void ConnectSibling(ISideDataPath sibling);
}

/// <summary>
/// Where a side sends what its sibling relays: the latched source in every shape a sender needs, built once per
/// latch: a <see cref="SocketAddress"/>, an <see cref="IPEndPoint"/>, and the raw sockaddr bytes in pinned memory
/// (the relay loop passes them to sendto as they are). Immutable once built.
/// </summary>
internal sealed class LatchedTarget
{
    public LatchedTarget(PacketSource source, SocketAddress address, IPEndPoint endPoint, bool carriesRtp)
    {
        Source = source;
        CarriesRtp = carriesRtp;
        Address = address;
        EndPoint = endPoint;
        Native = GC.AllocateArray<byte>(address.Size, pinned: true);
        address.Buffer.Span[..address.Size].CopyTo(Native);
    }

    public PacketSource Source { get; }
    /// <summary>False while the side is latched by a protocol other than RTP (mode auto): RTP is not relayed to it.</summary>
    public bool CarriesRtp { get; }
    public SocketAddress Address { get; }
    public IPEndPoint EndPoint { get; }
    /// <summary>The sockaddr as the OS takes it; pinned (allocated on the pinned object heap).</summary>
    public byte[] Native { get; }
}

/// <summary>
/// The admission of received datagrams, shared by every transport: count, check the source and the size, ask the
/// latch, publish a latch change, and hand back the sibling's target when the datagram must be relayed. Each
/// transport derives its data path from this with itself as <typeparamref name="TPath"/>, so its sibling is of its
/// own type and a receive path never casts. Nothing here allocates per datagram (a latch change allocates its target).
/// </summary>
internal abstract class SideDataPath<TPath> : ISideDataPath where TPath : SideDataPath<TPath>
{
    private volatile LatchedTarget? _target;   // written by this side's receive path; read by the sibling's and the channel
    private volatile TPath? _sibling;          // written once by the channel (ConnectSibling) before relaying starts
    private volatile RtpStreamStats? _quality; // made by the receive path with its first RTP packet (quality on)
    // What the receive path reads of the spec for every datagram, copied here: the admission waits on memory, and each
    // hop from one per-side object to the next (side → spec → clock) is a load that misses the cache (docs/benchmarks.md,
    // "Where the managed part stalls").
    private readonly RelayClock _clock;
    private readonly int _maxDatagram;
    private readonly PayloadFormats? _formats;

    protected SideDataPath(SideSpec spec, IActorRef channel, IActorRef sideActor)
    {
        Spec = spec;
        _clock = spec.Clock;
        _maxDatagram = spec.Settings.MaxDatagram;
        _formats = spec.Formats;
        Latch = new SideLatch(spec.Policy, spec.Clock.NowMs);
        Channel = channel;
        SideActor = sideActor;
        if (spec.Restore is { } restore) RestoreLatch(restore);
    }

    /// <summary>
    /// Puts back a latch recorded before the node restarted (before any thread relays: the constructor), so the sibling
    /// relays to the client at once, without new signalling. The target is addressed in the family of this side's socket
    /// (an IPv4 client of a dual-stack socket is IPv4-mapped).
    /// </summary>
    private void RestoreLatch(LatchRestore restore)
    {
        var source = PacketSource.From(restore.Source);
        Latch.Restore(source, restore.Ssrc, restore.CarriesRtp);
        var family = SideSockets.Usable(Spec.Bind).AddressFamily;
        var ep = family == AddressFamily.InterNetworkV6 && restore.Source.AddressFamily == AddressFamily.InterNetwork
            ? new IPEndPoint(restore.Source.Address.MapToIPv6(), restore.Source.Port)
            : restore.Source;
        _target = new LatchedTarget(source, ep.Serialize(), source.ToEndPoint(), Latch.CarriesRtp);
    }

    public SideSpec Spec { get; }
    public Side Side => Spec.Side;
    public SideCounters Counters { get; } = new();
    public LatchedTarget? Target => _target;
    public TPath? Sibling => _sibling;
    public RtpStreamStats? Quality => _quality;

    /// <summary>The latch: only the receive path calls <see cref="SideLatch.Offer"/>.</summary>
    protected SideLatch Latch { get; }
    protected IActorRef Channel { get; }
    /// <summary>The actor that owns this side (drop and latch reports come from it).</summary>
    public IActorRef SideActor { get; }

    public void Resignal(long nowMs, SourceFilter? expected) => Latch.Resignal(nowMs, expected);

    public void ConnectSibling(ISideDataPath sibling)
    {
        if (sibling is not TPath same)
            throw new InvalidOperationException($"a {typeof(TPath).Name} side cannot relay to a {sibling.GetType().Name} side");
        if (Interlocked.CompareExchange(ref _sibling, same, null) is not null)
            throw new InvalidOperationException($"side {Side} of {Spec.ChannelId} is connected already");
    }

    /// <summary>
    /// Admits one datagram received from the socket address <paramref name="nativeSource"/> of
    /// <paramref name="family"/> (the raw sockaddr, kept as the send target when the datagram latches). Returns the
    /// sibling's target when the datagram must be relayed, or null when it was dropped (and counted).
    /// </summary>
    public LatchedTarget? Admit(ReadOnlySpan<byte> datagram, AddressFamily family, ReadOnlySpan<byte> nativeSource)
    {
        var now = _clock.NowMs;
        Counters.OnReceived(datagram.Length, now);
        if (!SocketAddressCodec.TryRead(family, nativeSource, out var source)) { Drop(DropReason.InvalidSource); return null; }
        return Decide(datagram, source, family, nativeSource, now);
    }

    /// <summary>Admits one datagram whose source the transport gave as an endpoint (Akka.IO). See the other overload.</summary>
    public LatchedTarget? Admit(ReadOnlySpan<byte> datagram, IPEndPoint? from)
    {
        var now = _clock.NowMs;
        Counters.OnReceived(datagram.Length, now);
        if (from is null) { Drop(DropReason.InvalidSource); return null; }
        return Decide(datagram, PacketSource.From(from), from.AddressFamily, default, now);
    }

    /// <summary>A datagram that was received and dropped before admission (e.g. <see cref="DropReason.Late"/>).</summary>
    public void DropReceived(int length, DropReason reason)
    {
        Counters.OnReceived(length, _clock.NowMs);
        Drop(reason);
    }

    /// <summary>A datagram admitted by this side went out of the sibling's socket.</summary>
    public void Forwarded(int length) => Counters.OnForwarded(length);

    /// <summary>Counts a drop; the first since the channel's last summary tells the channel (one message per stats interval).</summary>
    public void Drop(DropReason reason)
    {
        if (Counters.OnDropped(reason)) Channel.Tell(DropsPending.Of(Side), SideActor);
    }

    private LatchedTarget? Decide(ReadOnlySpan<byte> datagram, in PacketSource source, AddressFamily family,
        ReadOnlySpan<byte> nativeSource, long now)
    {
        if (datagram.Length > _maxDatagram) { Drop(DropReason.Oversize); return null; }

        var verdict = Latch.Offer(source, datagram, now);
        if (!verdict.Relays()) { Drop(verdict.ToDropReason()); return null; }
        if (_formats is { } formats) Measure(datagram, formats);
        if (verdict.ChangesTarget()) PublishTarget(source, family, nativeSource, announce: verdict.ChangesLatch());

        var target = _sibling?._target;
        // Mode auto: a side latched by RTP and a side latched provisionally by another protocol do not relay to each
        // other (no media to a stranger's junk, no junk to a client); in every other mode both always carry RTP.
        if (target is null || target.CarriesRtp != Latch.CarriesRtp) { Drop(DropReason.PeerNotLatched); return null; }
        if (target.Source == source) { Drop(DropReason.Loop); return null; } // never back to its own source
        return target;
    }

    /// <summary>Feeds an admitted RTP or RTCP packet to the side's quality figures (RFC 7983: first byte 128..191).</summary>
    private void Measure(ReadOnlySpan<byte> datagram, PayloadFormats formats)
    {
        if (datagram.Length < 8 || (datagram[0] & 0xC0) != 0x80) return;
        var quality = _quality ?? StartQuality(formats);
        var micros = _clock.NowMicros;
        if (RtpHeader.IsRtcpPacketType(datagram[1])) quality.OnRtcp(datagram, micros);
        else quality.OnRtp(datagram, micros);
    }

    /// <summary>
    /// The side's figures, made once (not for idle channels); each side's RTCP reports are about the stream its sibling
    /// receives, so the two are linked (by whichever side starts second).
    /// </summary>
    private RtpStreamStats StartQuality(PayloadFormats formats)
    {
        var quality = new RtpStreamStats(formats);
        if (_sibling?._quality is { } theirs)
        {
            quality.ReportsAbout(theirs);
            theirs.ReportsAbout(quality);
        }
        _quality = quality;
        if (_sibling?._quality is { } late) late.ReportsAbout(quality); // the sibling started meanwhile
        return quality;
    }

    /// <summary>Builds this side's target again and tells the channel: a new source (announced to supervisors), or a source that now carries RTP (not announced).</summary>
    private void PublishTarget(in PacketSource source, AddressFamily family, ReadOnlySpan<byte> nativeSource, bool announce)
    {
        var ep = source.ToEndPoint();
        // As received, so the reply goes out in the receiving socket's own family (an IPv4 client of a dual-stack
        // socket stays IPv4-mapped).
        var sa = nativeSource.IsEmpty ? ep.Serialize() : SocketAddressCodec.Copy(family, nativeSource);
        var previous = _target;
        _target = new LatchedTarget(source, sa, ep, Latch.CarriesRtp);
        if (announce) Counters.OnLatchChanged();
        Channel.Tell(new SideLatchChanged(Side, previous?.EndPoint, ep, Latch.Ssrc, Latch.CarriesRtp, announce), SideActor);
    }
}

using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ActorRelay.Counters;
using ActorRelay.Latching;
using ActorRelay.Protocol;

namespace ActorRelay.Sides;

/// <summary>
/// Where a side sends what its sibling relays: the latched source in every shape a sender needs, built once per
/// latch: a <see cref="SocketAddress"/>, an <see cref="IPEndPoint"/>, and the raw sockaddr bytes in pinned memory
/// (the relay loop passes them to sendto as they are).
/// </summary>
internal sealed class LatchedTarget
{
    public LatchedTarget(PacketSource source, SocketAddress address, IPEndPoint endPoint)
    {
        Source = source;
        Address = address;
        EndPoint = endPoint;
        Native = GC.AllocateArray<byte>(address.Size, pinned: true);
        address.Buffer.Span[..address.Size].CopyTo(Native);
    }

    public PacketSource Source { get; }
    public SocketAddress Address { get; }
    public IPEndPoint EndPoint { get; }
    /// <summary>The sockaddr as the OS takes it; pinned (allocated on the pinned object heap).</summary>
    public byte[] Native { get; }
}

/// <summary>
/// The per-datagram decision shared by both transports: size check, latch policy, counters, latch
/// publication and the sibling's target. Single writer (the side's receive path); the latched target
/// is published through a volatile field for the sibling's receive path to read.
/// </summary>
internal class SideDataPath
{
    private volatile LatchedTarget? _target;
    private volatile SideDataPath? _sibling;

    public SideDataPath(SideSpec spec, IActorRef channel, IActorRef side)
    {
        Spec = spec;
        Latch = new SideLatch(spec.Policy, spec.Clock.NowMs);
        Channel = channel;
        SideActor = side;
    }

    public SideSpec Spec { get; }
    public Side Side => Spec.Side;
    public SideLatch Latch { get; }
    public SideCounters Counters { get; } = new();
    public IActorRef Channel { get; }
    public IActorRef SideActor { get; }
    public LatchedTarget? Target => _target;
    public SideDataPath? Sibling { get => _sibling; set => _sibling = value; }

    /// <summary>
    /// Decides one received datagram. Returns the sibling's target when it must be relayed, or null when
    /// it was dropped (and counted). <paramref name="nativeSource"/> is the source as the OS gave it (a raw
    /// sockaddr, socket transport), kept as the send target when the datagram latches; empty otherwise.
    /// </summary>
    public LatchedTarget? Admit(ReadOnlySpan<byte> datagram, in PacketSource source, ReadOnlySpan<byte> nativeSource)
    {
        var now = Spec.Clock.NowMs;
        Counters.OnReceived(datagram.Length, now);
        if (datagram.Length > Spec.MaxDatagram) { Drop(DropReason.Oversize); return null; }

        var verdict = Latch.Offer(source, datagram, now);
        if (!verdict.Relays()) { Drop(verdict.ToDropReason()); return null; }
        if (verdict.ChangesLatch()) PublishLatch(source, nativeSource);

        var target = _sibling?._target;
        if (target is null) { Drop(DropReason.PeerNotLatched); return null; }
        return target;
    }

    public void Drop(DropReason reason)
    {
        if (Counters.OnDropped(reason)) Channel.Tell(DropsPending.Of(Side), SideActor);
    }

    private void PublishLatch(in PacketSource source, ReadOnlySpan<byte> nativeSource)
    {
        var ep = source.ToEndPoint();
        SocketAddress sa;
        if (!nativeSource.IsEmpty)
        {
            // As received, so the reply goes out in the receiving socket's own family (an IPv4 client of a
            // dual-stack socket stays IPv4-mapped). sockaddr_in is 16 bytes and sockaddr_in6 28 on every OS.
            sa = new SocketAddress(nativeSource.Length <= 16 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6, nativeSource.Length);
            nativeSource.CopyTo(sa.Buffer.Span);
        }
        else sa = ep.Serialize();
        var previous = _target;
        _target = new LatchedTarget(source, sa, ep);
        Counters.OnLatchChanged();
        Channel.Tell(new SideLatchChanged(Side, previous?.EndPoint, ep), SideActor);
    }
}

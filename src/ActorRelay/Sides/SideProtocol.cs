using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using ActorRelay.Quality;
using ActorRelay.RelayLoops;
using ActorRelay.Settings;

namespace ActorRelay.Sides;

// The protocol between a ChannelActor and its two side actors, whatever the transport. Local only: SideBound and
// SocketFault hand live objects over (ILiveHandoff); every other message is an immutable value.

/// <summary>
/// What a side actor needs to bind and run. <paramref name="Loop"/>: the relay loop of the <c>socket</c> transport's
/// epoll engine (both sides of a channel share one), or null for the runtime's socket engine and for akka-io.
/// <paramref name="Restore"/>: the latch recorded before the node restarted, put back before the first datagram.
/// <paramref name="Formats"/>: the call's payload types when quality is measured (relay.quality.enabled), else null.
/// </summary>
internal sealed record SideSpec(
    string ChannelId,
    Side Side,
    IPEndPoint Bind,
    LatchPolicy Policy,
    RelaySettings Settings,
    RelayClock Clock,
    RelayLoop? Loop = null,
    LatchRestore? Restore = null,
    PayloadFormats? Formats = null);

/// <summary>A side's latch as a restarted node puts it back: the source, and for an RTP side its SSRC.</summary>
internal sealed record LatchRestore(IPEndPoint Source, uint? Ssrc, bool CarriesRtp);

/// <summary>Side → channel: the bind succeeded; hands the channel the side's data path (to connect and to read).</summary>
internal sealed record SideBound(Side Side, IPEndPoint Local, ISideDataPath DataPath) : ILiveHandoff;

/// <summary>Side → channel: the bind failed with <paramref name="Error"/>; the side stops itself (nothing to free).</summary>
internal sealed record SideBindFailed(Side Side, int Port, SocketError Error, string Message);

/// <summary>Channel → side: both data paths are connected; start relaying.</summary>
internal sealed record StartRelaying
{
    public static readonly StartRelaying Instance = new();
}

/// <summary>
/// Side → channel: the latch took or moved (<paramref name="Announce"/>: supervisors hear it), or its source now carries
/// RTP (mode auto: not announced). <paramref name="Ssrc"/> and <paramref name="CarriesRtp"/> are what a restarted node
/// needs to put the latch back.
/// </summary>
internal sealed record SideLatchChanged(Side Side, IPEndPoint? Previous, IPEndPoint Current, uint? Ssrc = null, bool CarriesRtp = true,
    bool Announce = true);

/// <summary>Side → channel: first drop since the last summary (one preallocated instance per side).</summary>
internal sealed record DropsPending(Side Side) : IDeadLetterSuppression
{
    public static readonly DropsPending Left = new(Side.Left);
    public static readonly DropsPending Right = new(Side.Right);
    public static DropsPending Of(Side side) => side == Side.Left ? Left : Right;
}

/// <summary>Side → channel: the side lost its socket and bound the same port again (informational).</summary>
internal sealed record SideRecovered(Side Side, string Why);

/// <summary>Side → channel: the side failed and is closing its port in order; the channel closes (reason SideFailed).</summary>
internal sealed record SideFailed(Side Side, string Why);

/// <summary>Channel → side: free the port and stop; the side answers <see cref="SideClosed"/> first.</summary>
internal sealed record CloseSide
{
    public static readonly CloseSide Instance = new();
}

/// <summary>Side → channel: the side's port is free; the side stops.</summary>
internal sealed record SideClosed(Side Side);

/// <summary>Data path → its side actor: the socket failed on an unexpected error (it is closed, or about to be).</summary>
internal sealed record SocketFault(Socket Socket, Exception Error) : ILiveHandoff;

/// <summary>A side could not keep its port; its channel closes with reason SideFailed.</summary>
public sealed class SideFailedException(string message, Exception? inner = null) : Exception(message, inner);

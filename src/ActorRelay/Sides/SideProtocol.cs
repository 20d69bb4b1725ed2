using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ActorRelay.Counters;
using ActorRelay.Latching;
using ActorRelay.Protocol;

namespace ActorRelay.Sides;

// Messages between a ChannelActor and its two side actors. Local only (they carry live objects).

/// <summary>What a side actor needs to bind and run. <paramref name="Loop"/>: the relay loop of the <c>socket</c>
/// transport's epoll engine (both sides of a channel share one), or null for the runtime's socket engine.</summary>
internal sealed record SideSpec(
    string ChannelId,
    Side Side,
    IPEndPoint Bind,
    LatchPolicy Policy,
    int MaxDatagram,
    int ReceiveBuffer,
    int SendBuffer,
    RelayClock Clock,
    RelayLoop? Loop = null);

/// <summary>Side → channel: the bind succeeded.</summary>
internal sealed record SideBound(Side Side, IPEndPoint Local, SideDataPath DataPath) : INoSerializationVerificationNeeded;

/// <summary>Side → channel: the bind failed; the side stops itself (nothing to free).</summary>
internal sealed record SideBindFailed(Side Side, int Port, SocketError Error, string Message);

/// <summary>Channel → side: start relaying; payloads go to this sibling.</summary>
internal sealed record ConnectSibling(SideDataPath Sibling) : INoSerializationVerificationNeeded;

/// <summary>Side → channel: the latch took or moved.</summary>
internal sealed record SideLatchChanged(Side Side, IPEndPoint? Previous, IPEndPoint Current);

/// <summary>Side → channel: first drop since the last summary (one preallocated instance per side).</summary>
internal sealed record DropsPending(Side Side) : IDeadLetterSuppression
{
    public static readonly DropsPending Left = new(Side.Left);
    public static readonly DropsPending Right = new(Side.Right);
    public static DropsPending Of(Side side) => side == Side.Left ? Left : Right;
}

/// <summary>Side → channel: the side lost its socket and re-bound the same port (informational).</summary>
internal sealed record SideRecovered(Side Side, string Why);

/// <summary>Channel → side: free the port and stop; the side answers <see cref="SideClosed"/> first.</summary>
internal sealed record CloseSide
{
    public static readonly CloseSide Instance = new();
}

internal sealed record SideClosed(Side Side);

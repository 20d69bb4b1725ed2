using System.Net;
using Akka.Actor;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using ActorRelay.Quality;
using ActorRelay.RelayLoops;
using ActorRelay.Settings;
using ActorRelay.Sides;

namespace ActorRelay.Channels;

// The protocol between the node actor and its ChannelActors. Local only; immutable values.

/// <summary>Everything a channel needs, resolved by the node from the request and the settings (and, for the
/// socket transport's epoll engine, the relay loop both its sides join).</summary>
internal sealed record ChannelSpec(
    string ChannelId,
    IPEndPoint LeftBind,
    IPEndPoint RightBind,
    bool LeftPortFromPool,
    bool RightPortFromPool,
    IPAddress? LeftAdvertise,
    IPAddress? RightAdvertise,
    LatchPolicy LeftPolicy,
    LatchPolicy RightPolicy,
    TimeSpan IdleTimeout,
    TimeSpan SetupTimeout,
    TimeSpan MaxLifetime,
    RelaySettings Settings,
    RelayClock Clock,
    RelayLoop? Loop = null,
    ChannelRestore? Restore = null,
    PayloadFormats? Formats = null,
    Metrics.RelayMetrics? Metrics = null);

/// <summary>A channel a restarted node brings back: when it first opened (its lifetime counts from then) and its sides' latches.</summary>
internal sealed record ChannelRestore(DateTimeOffset OpenedAt, LatchRestore? Left, LatchRestore? Right);

/// <summary>Channel → node: both sides are bound; reply this to the opener(s).</summary>
internal sealed record ChannelReady(ChannelOpened Opened);

/// <summary>Channel → node: the channel could not open; it closes what it bound, then finishes.</summary>
internal sealed record ChannelOpenFailed(OpenRejected Rejection);

/// <summary>Channel → node: a pool port was in use by another program; give this side another one.</summary>
internal sealed record ReplacePort(Side Side, int Port);

/// <summary>Node → channel: answer to <see cref="ReplacePort"/>; Port 0 = the pool is exhausted.</summary>
internal sealed record PortReplaced(Side Side, int Port);

/// <summary>Channel → node: an event of this channel for its subscribers (the node fans it out, once per subscriber).</summary>
internal sealed record ChannelEvent(IChannelEvent Event);

/// <summary>Channel → node: a side's latch took, moved or now carries RTP (the node records it when it persists channels).</summary>
internal sealed record ChannelLatched(Side Side, LatchRestore Latch);

/// <summary>Channel → node: the channel began to close (its ports are being freed).</summary>
internal sealed record ChannelClosing(CloseReason Reason);

/// <summary>Node → channel: close for a reason of the node's (NodeStopping when it drains, OpenerLost for an orphan).</summary>
internal sealed record CloseWithReason(CloseReason Reason, string Message)
{
    public static readonly CloseWithReason NodeStopping = new(CloseReason.NodeStopping, "the node is stopping");
}

/// <summary>
/// Channel → node: the sides are closed (ports free) and the channel is stopping. The node releases the
/// ports, then sends <see cref="Closed"/> once to every subscriber and to whoever asked to close.
/// </summary>
internal sealed record ChannelFinished(ChannelClosed Closed, IReadOnlyList<IActorRef> CloseRequesters);

/// <summary>Node → channel: ChannelClosed is published and the ports are released; the channel may stop.</summary>
internal sealed record ChannelFinishedAck
{
    public static readonly ChannelFinishedAck Instance = new();
}

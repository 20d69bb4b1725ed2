using Akka.Actor;

namespace ActorRelay.Protocol;

// The relay cluster's messages (relay.cluster): what relay nodes tell each other, and what the placement entry point
// (/user/placement on every relay node) answers. A supervisor sends the node protocol's own commands to the entry
// point (OpenChannel, CloseChannel, GetChannel, ResignalSide, Subscribe, Unsubscribe, ListChannels, GetNodeStatus);
// the messages below travel between relay nodes only, and a node accepts them only from a member of its cluster with
// the relay role (or from its own process).

/// <summary>
/// A node's load, published about once a second (relay.cluster.load-interval) in the cluster's replicated load map
/// (Akka.DistributedData, an LWW map keyed by node address). <paramref name="At"/> is the node's clock when it read its
/// figures: the entry points count their own placements made after it as not yet in it. <paramref name="PacketsPerSecond"/>:
/// datagrams the node relayed per second since its previous load; <paramref name="RelayLoopCpuPercent"/>: the busiest
/// relay loop's CPU over that time, in percent of one core (0 without relay loops). Both are for operators
/// (GetNodeStatus through the entry point shows each member's load): placement goes by channels and ports.
/// </summary>
public sealed record NodeLoad(string Node, int ChannelsOpen, int Capacity, int PortsFree, bool Draining, DateTimeOffset At,
    double PacketsPerSecond = 0, double RelayLoopCpuPercent = 0) : IRelayMessage
{
    /// <summary>Channels the node can still take: none while draining; else capacity left, bounded by its free port pairs.</summary>
    public int Room() => Draining ? 0 : Math.Max(0, Math.Min(Capacity - ChannelsOpen, PortsFree / 2));
}

/// <summary>
/// An entry point asks a node to open a channel for <paramref name="Opener"/> (the supervisor that sent the
/// OpenChannel): the channel belongs to the opener's system and its events go to Open.Subscriber or the opener, as if
/// the opener had asked the node itself; the reply (ChannelOpened or OpenRejected) goes to the sender, the entry point.
/// </summary>
public sealed record PlaceChannel(OpenChannel Open, IActorRef Opener) : IRelayCommand;

/// <summary>
/// To the placement entry point: open <paramref name="Open"/> on the node where the channel <paramref name="Near"/>
/// lives (the channels of one call stay together: an RTCP channel on the ports next to its RTP channel's, every stream
/// of a call behind one advertised address), not elsewhere when that node refuses. Reply: ChannelOpened or OpenRejected.
/// </summary>
public sealed record PlaceNear(OpenChannel Open, IActorRef Near) : IRelayCommand;

/// <summary>Does the node hold a channel by this id (opening, open or closing)? Reply: <see cref="ChannelLocated"/>.</summary>
public sealed record LocateChannel(string ChannelId) : IRelayCommand;

public sealed record ChannelLocated(string ChannelId, bool Found) : IRelayMessage;

/// <summary>
/// One page of the node's channels <paramref name="Opener"/> may see (its own, or every one for an administrator): those
/// after <paramref name="After"/>, at most <paramref name="Limit"/> (null: the node's page size), as
/// <see cref="ListChannels"/> pages. Reply: <see cref="ChannelList"/>.
/// </summary>
public sealed record ListChannelsFor(IActorRef Opener, string? After = null, int? Limit = null) : IRelayCommand;

/// <summary>
/// A member of the cluster as a node sees it: address, status (Up, Leaving, ...), reachability and roles; through the
/// placement entry point also the member's last published <see cref="NodeLoad"/> (null when none is known, or asked of
/// one node).
/// </summary>
public sealed record ClusterMemberView(string Address, string Status, bool Reachable, IReadOnlyList<string> Roles, NodeLoad? Load = null)
{
    public IReadOnlyList<string> Roles { get; init; } = Roles.ToArray();
    public bool Equals(ClusterMemberView? other) =>
        other is not null && Address == other.Address && Status == other.Status && Reachable == other.Reachable && Roles.SequenceEqual(other.Roles)
        && Equals(Load, other.Load);
    public override int GetHashCode() => HashCode.Combine(Address, Status, Reachable, Roles.Count);
}

/// <summary>The node's place in its cluster: its own address, its role, the members it sees.</summary>
public sealed record NodeClusterView(string Self, string Role, IReadOnlyList<ClusterMemberView> Members)
{
    public IReadOnlyList<ClusterMemberView> Members { get; init; } = Members.ToArray();
    public bool Equals(NodeClusterView? other) =>
        other is not null && Self == other.Self && Role == other.Role && Members.SequenceEqual(other.Members);
    public override int GetHashCode() => HashCode.Combine(Self, Role, Members.Count);
}

// NG through any node: an NG call lives in the call book of the node whose NG endpoint took its first offer; a node
// whose endpoint gets a command for a call-id its own book does not know asks the other relay nodes where it is.

/// <summary>
/// To a relay node's placement entry point: does its NG call book hold the call <paramref name="CallId"/>? The entry
/// point passes it to its book (which answers) or, when the node runs no NG endpoint, answers not found itself.
/// Reply: <see cref="NgCallLocated"/>, from the book that holds it (the ref to send <see cref="ForwardNgCommand"/> to).
/// </summary>
public sealed record LocateNgCall(string CallId) : IRelayMessage;

public sealed record NgCallLocated(string CallId, bool Found) : IRelayMessage;

/// <summary>
/// To the NG call book that holds a call (the sender of a positive <see cref="NgCallLocated"/>): act on this NG request
/// (<paramref name="Body"/>: the request dictionary, bencoded as received) as if its own endpoint had received it.
/// Reply: <see cref="ForwardedNgReply"/>.
/// </summary>
public sealed record ForwardNgCommand(string CallId, byte[] Body) : IRelayMessage;

/// <summary>The reply dictionary of a forwarded NG request, bencoded.</summary>
public sealed record ForwardedNgReply(string CallId, byte[] Reply) : IRelayMessage;

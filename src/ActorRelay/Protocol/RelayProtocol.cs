using System.Net;
using Akka.Actor;

namespace ActorRelay.Protocol;

// The relay's public message protocol. A supervising application (local or over Akka.Remote) sends
// the commands to the node actor (/user/relay); every command gets exactly one reply. Messages are
// immutable records made of strings, numbers, enums, actor refs and other protocol records only, so
// they cross Akka.Remote intact (RelayProtocolSerializer).

/// <summary>Marker for every top-level protocol message (commands, replies, events): what Akka.Remote serializes with <see cref="RelayProtocolSerializer"/>.</summary>
public interface IRelayMessage { }

/// <summary>Marker for commands the node answers.</summary>
public interface IRelayCommand : IRelayMessage { }

/// <summary>Marker for channel events delivered to subscribers.</summary>
public interface IChannelEvent : IRelayMessage { string ChannelId { get; } }

public enum Side { Left, Right }

/// <summary>How a side learns ("latches") the address it sends back to.</summary>
public enum LatchMode
{
    /// <summary>The first packet from a valid source latches; other sources are dropped (ForeignSource). The safe floor.</summary>
    First,
    /// <summary>The seed script's behaviour: every packet re-latches. Unsafe (RTP Bleed): trusted networks only.</summary>
    Follow,
    /// <summary>
    /// RTP-aware, for RTP channels: only RTP latches, after a probation of consecutive in-sequence packets of one
    /// SSRC; a new source is followed only with the latched SSRC and a plausible sequence continuation (NAT rebind).
    /// </summary>
    Rtp,
    /// <summary>
    /// The default: the Rtp rules for RTP and RTCP, First's rules for any other protocol, RTP winning. A fresh side
    /// latches to another protocol's first source provisionally (so a non-RTP symmetric protocol is relayed); an RTP
    /// source that passes probation takes it over, and RTP is never relayed to a provisional side, so junk sprayed
    /// before the clients start (STUN, DTLS, empty or random datagrams) neither takes the call nor hears it.
    /// </summary>
    Auto,
}

/// <summary>An address and UDP port, as text so it serialises anywhere. Address is an IPv4 or IPv6 literal.</summary>
public sealed record RelayEndpoint(string Address, int Port)
{
    public static RelayEndpoint From(IPEndPoint ep) =>
        new((ep.Address.IsIPv4MappedToIPv6 ? ep.Address.MapToIPv4() : ep.Address).ToString(), ep.Port);

    public IPEndPoint ToIPEndPoint() => new(IPAddress.Parse(Address), Port);

    public override string ToString() => Address.Contains(':') ? $"[{Address}]:{Port}" : $"{Address}:{Port}";
}

/// <summary>
/// What a request asks of one side. Port null = allocate from the pool; BindAddress null = node default;
/// ExpectedSource (e.g. from the SDP: "198.51.100.7", "198.51.100.0/24", "198.51.100.7:4000", "[2001:db8::1]:4000"):
/// only a matching source may latch this side. EvenPort (with Port null): an even pool port, so that its odd
/// neighbour is usually free for a companion channel (RTCP on the RTP port + 1).
/// </summary>
public sealed record SideRequest(int? Port = null, string? BindAddress = null, string? ExpectedSource = null, bool EvenPort = false);

/// <summary>
/// Per-channel overrides of the node's defaults; null = use the node's configuration. <paramref name="RtpMaps"/>: the
/// dynamic payload types of the call as SDP gives them ("96 opus/48000/2", "101 telephone-event/8000"), so the
/// quality figures use each type's clock rate (static types are known; others are taken as 8 kHz and flagged).
/// </summary>
public sealed record ChannelOptions(
    LatchMode? LatchMode = null,
    TimeSpan? IdleTimeout = null,
    TimeSpan? SetupTimeout = null,
    TimeSpan? MaxLifetime = null,
    TimeSpan? LearningWindow = null,
    int? Probation = null,
    IReadOnlyList<string>? RtpMaps = null)
{
    public IReadOnlyList<string>? RtpMaps { get; init; } = RtpMaps?.ToArray();

    // a record compares its list by reference: options are equal when their payload types are
    public bool Equals(ChannelOptions? other) =>
        other is not null && LatchMode == other.LatchMode && IdleTimeout == other.IdleTimeout && SetupTimeout == other.SetupTimeout &&
        MaxLifetime == other.MaxLifetime && LearningWindow == other.LearningWindow && Probation == other.Probation &&
        (RtpMaps ?? []).SequenceEqual(other.RtpMaps ?? []);

    public override int GetHashCode() => HashCode.Combine(LatchMode, IdleTimeout, SetupTimeout, MaxLifetime, LearningWindow, Probation, RtpMaps?.Count);
}

/// <summary>
/// The quality of the RTP stream a side receives from its client, measured at the relay (RFC 3550: loss from sequence
/// numbers, interarrival jitter with the payload type's clock rate; an E-model MOS from both, docs/quality.md), and what
/// the client itself reported in RTCP about the stream it receives (when its RTCP passes through).
/// </summary>
public sealed record StreamQuality(
    uint Ssrc,
    int PayloadType,
    long PacketsExpected,
    long PacketsLost,
    double LossRatio,
    long Duplicates,
    long Reordered,
    double JitterSeconds,
    int ClockRate,
    bool ClockRateAssumed,
    double Mos,
    long SsrcChanges,
    double? ReportedLossRatio = null,
    double? ReportedJitterSeconds = null);

// ---- open -------------------------------------------------------------------------------------

/// <summary>
/// Opens a relay channel. Idempotent by <paramref name="ChannelId"/>: the same request again gets the same
/// reply (so a supervisor can retry after an Ask timeout, and the retry's subscriber hears the channel's events too);
/// a different request under an open id is rejected with <see cref="RejectReason.Conflict"/>. Reply:
/// <see cref="ChannelOpened"/> or <see cref="OpenRejected"/>.
/// <para>The channel's events go to <paramref name="Subscriber"/> when one is named (what an <c>Ask</c> needs: its
/// temporary actor, the sender, is gone after the reply), else to the sender, unless <paramref name="SubscribeOpener"/>
/// is false. The channel belongs to the sender's ActorSystem: only that system (or an administrator) may close,
/// re-signal, query or subscribe to it, and when that system is gone and nobody listens to the channel any more, it
/// closes after relay.control.opener-lost-grace (reason OpenerLost) unless a supervisor subscribes again.</para>
/// </summary>
public sealed record OpenChannel(
    string ChannelId,
    SideRequest? Left = null,
    SideRequest? Right = null,
    ChannelOptions? Options = null,
    bool SubscribeOpener = true,
    IActorRef? Subscriber = null) : IRelayCommand
{
    /// <summary>The request without who asked or who listens: what idempotency and conflicts compare.</summary>
    public OpenChannel WithoutListener() => this with { Subscriber = null, SubscribeOpener = true };
}

/// <summary>The channel is bound: advertise Left and Right to the two clients; watch Channel to learn when it ends.</summary>
public sealed record ChannelOpened(string ChannelId, RelayEndpoint Left, RelayEndpoint Right, IActorRef Channel) : IRelayMessage;

public enum RejectReason
{
    /// <summary>Malformed request (empty or too long id, bad address, negative timeout, ...).</summary>
    InvalidRequest,
    /// <summary>A requested port is outside 1..65535.</summary>
    PortOutOfRange,
    /// <summary>A requested fixed port is already used by another channel of this node.</summary>
    PortInUse,
    /// <summary>The port pool has no free port left.</summary>
    PortsExhausted,
    /// <summary>The node holds as many channels as its open-file limit (or relay.max-channels) allows.</summary>
    Capacity,
    /// <summary>The operating system refused the bind (port used by another program, address not local, ...).</summary>
    BindFailed,
    /// <summary>The id is open with different parameters.</summary>
    Conflict,
    /// <summary>The node is stopping.</summary>
    ShuttingDown,
    /// <summary>The channel failed while opening (an internal error: the node's log has the cause); nothing stays bound.</summary>
    ChannelFailed,
    /// <summary>The sender may not do this: a system not in relay.control.allow, a channel another system owns, or a
    /// privileged command from a supervisor that is not in relay.control.administrators.</summary>
    NotAuthorized,
    /// <summary>The message could not be read (not the relay's serializer, or malformed).</summary>
    Unreadable,
}

public sealed record OpenRejected(string ChannelId, RejectReason Reason, string Message) : IRelayMessage;

// ---- close / query / list -----------------------------------------------------------------------

/// <summary>Closes a channel. Reply: <see cref="ChannelClosed"/> (with final counters) or <see cref="ChannelNotFound"/>.</summary>
public sealed record CloseChannel(string ChannelId) : IRelayCommand;

/// <summary>Reply: <see cref="ChannelSnapshot"/> or <see cref="ChannelNotFound"/>.</summary>
public sealed record GetChannel(string ChannelId) : IRelayCommand;

/// <summary>
/// One page of the channels the sender may see (its own; every channel for an administrator), in ordinal order of
/// channel id: those after <paramref name="After"/> (the previous page's <see cref="ChannelList.NextAfter"/>; null = from
/// the first), at most <paramref name="Limit"/> of them (null = relay.control.list-page-size). A Limit above the node's
/// largest page (what always fits one Akka.Remote frame, measured at start) is served as the largest page: the reply's
/// NextAfter leads on, so nothing is lost. Reply: <see cref="ChannelList"/>, or <see cref="CommandRejected"/>
/// (InvalidRequest) for a Limit below 1. <see cref="Instance"/> asks for the first page.
/// </summary>
public sealed record ListChannels(string? After = null, int? Limit = null) : IRelayCommand
{
    /// <summary>The first page, of the node's page size.</summary>
    public static readonly ListChannels Instance = new();
}

/// <summary>Reply: <see cref="NodeStatus"/>.</summary>
public sealed record GetNodeStatus : IRelayCommand
{
    public static readonly GetNodeStatus Instance = new();
}

/// <summary>
/// The supervisor re-signalled one side (a re-INVITE, a new SDP): the side may learn a new source again for the
/// learning window, and ExpectedSource, when given, replaces the expected source. Reply: <see cref="SideResignalled"/>,
/// <see cref="ChannelNotFound"/> or <see cref="CommandRejected"/> (bad expected source).
/// </summary>
public sealed record ResignalSide(string ChannelId, Side Side, string? ExpectedSource = null) : IRelayCommand;

public sealed record SideResignalled(string ChannelId, Side Side) : IRelayMessage;

/// <summary>
/// Reply: <see cref="RuntimeStats"/>, the node process's own accounting. With <paramref name="CollectGarbage"/> the
/// node first runs a full, compacting garbage collection that returns free memory to the OS, so the working set
/// and heap figures show what is live: a diagnostic that pauses the node (tens of milliseconds with thousands of
/// channels), for benchmarks and memory investigations, not for routine polling.
/// </summary>
public sealed record GetRuntimeStats(bool CollectGarbage = false) : IRelayCommand
{
    public static readonly GetRuntimeStats Instance = new();
}

/// <summary>
/// The relay process as the runtime sees it: CPU time (user + system, all threads), garbage collections per
/// generation, total GC pause, bytes allocated, working set, and the managed heap (live objects plus garbage not
/// yet collected, or only live ones after <see cref="GetRuntimeStats.CollectGarbage"/>). Differences of two
/// readings measure a load.
/// </summary>
public sealed record RuntimeStats(
    double CpuMilliseconds,
    int Gen0Collections,
    int Gen1Collections,
    int Gen2Collections,
    double GcPauseMilliseconds,
    long AllocatedBytes,
    long WorkingSetBytes,
    int ProcessorCount,
    long ManagedHeapBytes = 0) : IRelayMessage;

/// <summary>The id names no open channel.</summary>
public sealed record ChannelNotFound(string ChannelId) : IRelayMessage;

/// <summary>A command the node could not understand (null id, unknown message type, ...).</summary>
public sealed record CommandRejected(string Command, RejectReason Reason, string Message) : IRelayMessage;

public enum ChannelState { Opening, Open, Closing }

public enum DropReason
{
    /// <summary>The other side has no latched address yet.</summary>
    PeerNotLatched,
    /// <summary>From a source other than the latched one (policy first).</summary>
    ForeignSource,
    /// <summary>From an unspecified, multicast or broadcast address, or port 0.</summary>
    InvalidSource,
    /// <summary>Larger than relay.max-datagram.</summary>
    Oversize,
    /// <summary>The operating system refused to send it on (buffer full, unreachable).</summary>
    SendFailed,
    /// <summary>From a source that does not match the side's expected source.</summary>
    UnexpectedSource,
    /// <summary>Mode rtp: not RTP/RTCP, from a source other than the latched one.</summary>
    NotRtp,
    /// <summary>Mode rtp: from a source still in probation (not yet enough consecutive packets of one SSRC).</summary>
    Probation,
    /// <summary>Waited in the socket's queue longer than relay.max-queue-delay (the relay is overloaded): shed, not sent late.</summary>
    Late,
    /// <summary>A zero-length datagram from a source other than the latched one.</summary>
    Empty,
    /// <summary>Both sides are latched to the same address and port: relaying would send it back where it came from (a loop, or a reflector).</summary>
    Loop,
}

public sealed record SideSnapshot(
    Side Side,
    RelayEndpoint Local,
    RelayEndpoint? Latched,
    long PacketsReceived,
    long BytesReceived,
    long PacketsForwarded,
    long BytesForwarded,
    IReadOnlyDictionary<DropReason, long> Dropped,
    long LatchChanges,
    DateTimeOffset? LastPacketAt,
    StreamQuality? Quality = null)
{
    // Collections are copied into plain types so the record serialises the same whoever built it.
    public IReadOnlyDictionary<DropReason, long> Dropped { get; init; } = new Dictionary<DropReason, long>(Dropped);

    public long PacketsDropped => Dropped.Values.Sum();
}

public sealed record ChannelSnapshot(
    string ChannelId,
    ChannelState State,
    LatchMode LatchMode,
    DateTimeOffset OpenedAt,
    SideSnapshot Left,
    SideSnapshot Right) : IRelayMessage;

public sealed record ChannelSummary(string ChannelId, ChannelState State, RelayEndpoint Left, RelayEndpoint Right, IActorRef Channel);

/// <summary>
/// A page of channels, ordered by id (ordinal). <paramref name="NextAfter"/>: the <see cref="ListChannels.After"/> of the
/// next page, null when this page is the last. Paging by id keeps a walk stable while channels open and close: every
/// channel open throughout the walk is listed exactly once; one that closes meanwhile may or may not be, and one that
/// opens meanwhile is listed when its id comes after the page being read.
/// </summary>
public sealed record ChannelList(IReadOnlyList<ChannelSummary> Channels, string? NextAfter = null) : IRelayMessage
{
    public IReadOnlyList<ChannelSummary> Channels { get; init; } = Channels.ToArray();
}

/// <summary>
/// The node's figures. <c>ForeignEventsRefused</c>: events sent to the node by anything but its own channels.
/// <c>JournalBacklog</c> (relay.persistence): records handed to the channel journal and not yet written; a crash loses
/// what it holds. <c>Draining</c>: the node takes no new channel. <c>Cluster</c> (relay.cluster): the node's role and
/// the members it sees; null for a node that runs alone. <c>PacketsRelayed</c>: datagrams relayed since the node started
/// (counted where the node keeps its sides' counters: with metrics, or in a relay cluster; else 0).
/// <c>RelayLoopCpuMilliseconds</c>: the CPU time each relay loop's thread has used (socket engine "epoll"; null without
/// relay loops). From the placement entry point the figures are the sums over the reachable relay nodes (and every
/// node's loops).
/// </summary>
public sealed record NodeStatus(
    int ChannelsOpen,
    int Capacity,
    long ChannelsOpened,
    IReadOnlyDictionary<CloseReason, long> ClosedByReason,
    IReadOnlyDictionary<RejectReason, long> RejectionsByReason,
    int PortsFree,
    int PortsTotal,
    string Transport,
    long ForeignEventsRefused = 0,
    int JournalBacklog = 0,
    bool Draining = false,
    NodeClusterView? Cluster = null,
    long PacketsRelayed = 0,
    IReadOnlyList<double>? RelayLoopCpuMilliseconds = null) : IRelayMessage
{
    public IReadOnlyDictionary<CloseReason, long> ClosedByReason { get; init; } = new Dictionary<CloseReason, long>(ClosedByReason);
    public IReadOnlyDictionary<RejectReason, long> RejectionsByReason { get; init; } = new Dictionary<RejectReason, long>(RejectionsByReason);
}

// ---- node lifecycle -----------------------------------------------------------------------------

/// <summary>
/// Drains the node: closes every channel (reason NodeStopping), refuses new ones (ShuttingDown) and replies
/// <see cref="NodeDrained"/> once every port is free. What stopping the node does first. With
/// <paramref name="KeepChannelsFor"/> the channels are kept until they end, for at most that long, and then the rest
/// close (a relay cluster's node leaving: new calls go to the other nodes meanwhile); a DrainNode without it, sent
/// while the node drains, closes them now.
/// </summary>
public sealed record DrainNode(TimeSpan? KeepChannelsFor = null) : IRelayCommand
{
    public static readonly DrainNode Instance = new();
}

public sealed record NodeDrained(int PortsFree, int PortsTotal) : IRelayMessage;

// ---- events -----------------------------------------------------------------------------------

/// <summary>Subscribes Subscriber to one channel's events (ChannelId set) or to every channel's (ChannelId null). Reply: <see cref="Subscribed"/> or <see cref="ChannelNotFound"/>.</summary>
public sealed record Subscribe(string? ChannelId, IActorRef Subscriber) : IRelayCommand;

public sealed record Unsubscribe(string? ChannelId, IActorRef Subscriber) : IRelayCommand;

public sealed record Subscribed(string? ChannelId) : IRelayMessage;

public sealed record Unsubscribed(string? ChannelId) : IRelayMessage;

public enum CloseReason
{
    /// <summary>A supervisor sent CloseChannel.</summary>
    Requested,
    /// <summary>No packet on either side for the idle timeout.</summary>
    IdleTimeout,
    /// <summary>Both sides were not latched within the setup timeout.</summary>
    SetupTimeout,
    /// <summary>The channel reached its maximum lifetime.</summary>
    MaxLifetime,
    /// <summary>A side failed and could not be recovered on its port.</summary>
    SideFailed,
    /// <summary>The node is shutting down.</summary>
    NodeStopping,
    /// <summary>The system that opened the channel is gone and nobody subscribed again within relay.control.opener-lost-grace.</summary>
    OpenerLost,
    /// <summary>The node came back from its journal with room for fewer channels than it held (a lower open-file limit
    /// or relay.max-channels): the channels opened first came back, this one did not.</summary>
    Capacity,
}

/// <summary>A side latched for the first time.</summary>
public sealed record SideLatched(string ChannelId, Side Side, RelayEndpoint Source) : IChannelEvent;

/// <summary>A latched side moved to another source (policy follow).</summary>
public sealed record SourceChanged(string ChannelId, Side Side, RelayEndpoint Previous, RelayEndpoint Current) : IChannelEvent;

/// <summary>Packets dropped on a side since the last summary, by reason (at most one summary per relay.stats-interval).</summary>
public sealed record PacketsDropped(string ChannelId, Side Side, IReadOnlyDictionary<DropReason, long> SinceLast, IReadOnlyDictionary<DropReason, long> Total) : IChannelEvent
{
    public IReadOnlyDictionary<DropReason, long> SinceLast { get; init; } = new Dictionary<DropReason, long>(SinceLast);
    public IReadOnlyDictionary<DropReason, long> Total { get; init; } = new Dictionary<DropReason, long>(Total);
}

/// <summary>The channel hit a timeout and is closing (a ChannelClosed follows).</summary>
public sealed record ChannelTimedOut(string ChannelId, CloseReason Reason, TimeSpan After) : IChannelEvent;

/// <summary>
/// A supervisor lost a channel without hearing it close: the node it lived on restarted without it, or is gone. Sent by
/// the supervisor-side client (<c>RelayClient</c>), never by a node; the call's media has stopped.
/// </summary>
public sealed record ChannelLost(string ChannelId, string Why) : IChannelEvent;

/// <summary>The channel is closed and its ports are released. Also the reply to CloseChannel.</summary>
public sealed record ChannelClosed(string ChannelId, CloseReason Reason, string Message, ChannelSnapshot Final) : IChannelEvent;

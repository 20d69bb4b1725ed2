using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Subscribe = ActorRelay.Protocol.Subscribe;
using Unsubscribe = ActorRelay.Protocol.Unsubscribe;
using Akka.Event;
using ActorRelay.Control;
using ActorRelay.Protocol;
using ActorRelay.Settings;

namespace ActorRelay.Cluster;

/// <summary>
/// The cluster's placement entry point, /user/placement (relay.cluster.entry-name) on every relay node: a supervisor (or
/// the node's NG endpoint) sends it the node protocol's commands and it serves them for the whole cluster.
/// <list type="bullet">
/// <item>OpenChannel: first asks every usable relay node whether it holds the id (idempotency across the cluster: a
/// retry after an Ask timeout finds the channel where the first attempt put it); if none does, places it on the node
/// with the most room (<see cref="PlacementChoice"/>, fed by the replicated loads), and on a Capacity, PortsExhausted,
/// ShuttingDown or BindFailed refusal tries the next. Answers with that node's ChannelOpened (its endpoints and
/// channel ref) or the last refusal.</item>
/// <item>CloseChannel, GetChannel, ResignalSide, Subscribe and Unsubscribe of one channel: located the same way and
/// forwarded to the node that holds it, so the node answers the supervisor itself (ChannelNotFound when none does).</item>
/// <item>ListChannels and GetNodeStatus: asked of every usable relay node and merged (a node that is unreachable or does
/// not answer within relay.cluster.node-timeout is left out). A ListChannels page is the merge of every node's page after
/// the same cursor (<see cref="ChannelPaging.Merge"/>): the cluster's channels page in one ordinal order of id.</item>
/// </list>
/// Each request is served by a child actor; channels never move once placed.
/// </summary>
public sealed class PlacementEntryActor : ReceiveActor
{
    private readonly RelaySettings _settings;
    private readonly RelayClock _clock;
    private readonly ControlPolicy _policy;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PlacementChoice _choice = new();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _localNode;
    private IActorRef? _ngBook;
    /// <summary>The most channels a ListChannels page holds (<see cref="ChannelListBound"/>, as the nodes measure it).</summary>
    private readonly int _maxPage;
    private long _sequence;

    public PlacementEntryActor(IActorRef localNode, RelaySettings settings, RelayClock clock)
    {
        _localNode = localNode;
        _settings = settings;
        _clock = clock;
        _policy = settings.ControlPolicy;
        _maxPage = ChannelListBound.MaxPage(Context.System, localNode.Path);

        Receive<Changed>(c => c.Key.Equals(NodeLoadPublisher.LoadsKey), c =>
        {
            foreach (var load in c.Get(NodeLoadPublisher.LoadsKey).Entries.Values) _choice.Update(load);
        });
        Receive<ClusterEvent.MemberRemoved>(r => _choice.Forget(r.Member.Address.ToString()));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });

        Receive<OpenChannel>(o =>
        {
            if (!Allowed(nameof(OpenChannel), o.ChannelId)) return;
            if (string.IsNullOrEmpty(o.ChannelId)) { Sender.Tell(new OpenRejected(o.ChannelId ?? "", RejectReason.InvalidRequest, "ChannelId must not be empty")); return; }
            Serve(o.ChannelId, o);
        });
        Receive<PlaceNear>(p =>
        {
            if (!Allowed(nameof(OpenChannel), p.Open?.ChannelId)) return;
            if (string.IsNullOrEmpty(p.Open?.ChannelId) || p.Near is null || p.Near.IsNobody())
            {
                Sender.Tell(new OpenRejected(p.Open?.ChannelId ?? "", RejectReason.InvalidRequest, "PlaceNear needs a channel id and the channel to place it near"));
                return;
            }
            Serve(p.Open.ChannelId, p);
        });
        Receive<CloseChannel>(c => { if (Allowed(nameof(CloseChannel))) Serve(c.ChannelId, c); });
        Receive<GetChannel>(g => { if (Allowed(nameof(GetChannel))) Serve(g.ChannelId, g); });
        Receive<ResignalSide>(r => { if (Allowed(nameof(ResignalSide))) Serve(r.ChannelId, r); });
        Receive<Subscribe>(s => s.ChannelId is not null, s => { if (Allowed(nameof(Subscribe))) Serve(s.ChannelId!, s); });
        Receive<Unsubscribe>(u => u.ChannelId is not null, u => { if (Allowed(nameof(Unsubscribe))) Serve(u.ChannelId!, u); });
        // every channel's events, draining, runtime figures: each node's own, not the cluster's
        Receive<Subscribe>(s => _localNode.Forward(s));
        Receive<Unsubscribe>(u => _localNode.Forward(u));
        Receive<ListChannels>(l =>
        {
            if (!Allowed(nameof(ListChannels))) return;
            var (limit, error) = ChannelPaging.Limit(l.Limit, _settings.ListPageSize, _maxPage);
            if (error is not null) { Sender.Tell(new CommandRejected(nameof(ListChannels), RejectReason.InvalidRequest, error)); return; }
            // every node's page after the same cursor, merged into the cluster's page
            Context.ActorOf(ClusterQueryActor.Props(new ListChannelsFor(Sender, l.After, limit), Sender, Nodes(), _settings), $"list-{++_sequence}");
        });
        Receive<GetNodeStatus>(_ =>
        {
            if (Allowed(nameof(GetNodeStatus)))
                Context.ActorOf(ClusterQueryActor.Props(GetNodeStatus.Instance, Sender, Nodes(), _settings, _choice.Loads.Values.ToList()), $"status-{++_sequence}");
        });

        // from the placement children
        Receive<ChooseNode>(c =>
        {
            var node = _choice.Choose(Nodes().Select(a => a.ToString()), c.Refused);
            if (node is not null) _choice.Started(node);
            Sender.Tell(new NodeChosen(node is null ? null : Address.Parse(node)));
        });
        Receive<PlacementStarted>(s => _choice.Started(s.Node.ToString()));
        Receive<PlacementEnded>(e => _choice.Ended(e.Node.ToString(), e.Opened, _clock.WallNow));
        // NG through any node: another relay node's NG endpoint got a command of a call it does not know
        Receive<NgCallBookStarted>(_ =>
        {
            _ngBook = Sender;
            Context.Watch(_ngBook);
        });
        Receive<Terminated>(t => t.ActorRef.Equals(_ngBook), _ => _ngBook = null);
        Receive<LocateNgCall>(l =>
        {
            if (!RelayMembership.IsRelayPeer(Context.System, Sender.Path.Address, _settings.ClusterRole))
            {
                var why = $"{Sender.Path.Address} is not a relay member of this cluster";
                _log.Warning("Refused {Command} from {Sender}: {Why}", nameof(LocateNgCall), Sender.Path, why);
                Sender.Tell(new CommandRejected(nameof(LocateNgCall), RejectReason.NotAuthorized, why));
                return;
            }
            if (_ngBook is null) Sender.Tell(new NgCallLocated(l.CallId, false)); // no NG endpoint here: no NG call either
            else _ngBook.Forward(l);
        });
        Receive<GetLoads>(_ => Sender.Tell(new KnownLoads(_choice.Loads.Values.OrderBy(l => l.Node, StringComparer.Ordinal).ToList())));
    }

    public static Props Props(IActorRef localNode, RelaySettings settings, RelayClock clock) =>
        Akka.Actor.Props.Create(() => new PlacementEntryActor(localNode, settings, clock));

    protected override void PreStart()
    {
        DistributedData.Get(Context.System).Replicator.Tell(Dsl.Subscribe(NodeLoadPublisher.LoadsKey, Self));
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    /// <summary>Where a placement looks for the channel first (every member that may hold one, up or not).</summary>
    private IReadOnlyList<Address> Nodes() => RelayMembership.RelayNodesHoldingChannels(Context.System, _settings.ClusterRole);

    private void Serve(string channelId, IRelayCommand command) =>
        Context.ActorOf(ChannelPlacementActor.Props(channelId, command, Sender, Nodes(), _settings), $"channel-{++_sequence}");

    private bool Allowed(string command, string? openId = null)
    {
        if (Sender.IsNobody() || Sender is DeadLetterActorRef)
        {
            _log.Warning("{Command} without a sender: nobody to answer", command);
            return false;
        }
        var from = Sender.Path.Address;
        if (_policy.IsAllowed(from) || RelayMembership.IsRelayPeer(Context.System, from, _settings.ClusterRole)) return true;
        var why = $"{from} is not in relay.control.allow";
        _log.Warning("Refused {Command} from {Sender}: {Why}", command, Sender.Path, why);
        Sender.Tell(openId is not null ? new OpenRejected(openId, RejectReason.NotAuthorized, why) : new CommandRejected(command, RejectReason.NotAuthorized, why));
        return false;
    }

    /// <summary>In-process diagnostics: the last load the entry point knows of each node. Reply: <see cref="KnownLoads"/>.</summary>
    public sealed record GetLoads
    {
        public static readonly GetLoads Instance = new();
    }

    public sealed record KnownLoads(IReadOnlyList<NodeLoad> Loads);

    /// <summary>The node's NG call book, as it starts: the entry point passes it the other relay nodes' <see cref="LocateNgCall"/>.</summary>
    internal sealed record NgCallBookStarted
    {
        public static readonly NgCallBookStarted Instance = new();
    }

    internal sealed record ChooseNode(IReadOnlySet<string> Refused);
    internal sealed record NodeChosen(Address? Node);
    internal sealed record PlacementStarted(Address Node);
    internal sealed record PlacementEnded(Address Node, bool Opened);
}

/// <summary>
/// One request for one channel at the entry point. States: Locating (every usable relay node is asked whether it holds
/// the id) → for an open that nobody holds, Placing (the entry point chooses a node; a refusal for room moves on to the
/// next) → done. A command for a channel that is found is forwarded to its node with the supervisor as sender.
/// </summary>
internal sealed class ChannelPlacementActor : ReceiveActor, IWithTimers
{
    private static readonly RejectReason[] TryElsewhere = [RejectReason.Capacity, RejectReason.PortsExhausted, RejectReason.ShuttingDown, RejectReason.BindFailed];

    private readonly string _channelId;
    private readonly IRelayCommand _command;
    private readonly IActorRef _requester;
    private readonly IReadOnlyList<Address> _nodes;
    private readonly RelaySettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Address _self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
    private readonly HashSet<string> _refused = new(StringComparer.Ordinal);
    private readonly HashSet<Address> _answered = new();
    private OpenRejected? _lastRefusal;

    public ITimerScheduler Timers { get; set; } = null!;

    public ChannelPlacementActor(string channelId, IRelayCommand command, IActorRef requester, IReadOnlyList<Address> nodes, RelaySettings settings)
    {
        _channelId = channelId;
        _command = command;
        _requester = requester;
        _nodes = nodes;
        _settings = settings;
        Locating();
    }

    public static Props Props(string channelId, IRelayCommand command, IActorRef requester, IReadOnlyList<Address> nodes, RelaySettings settings) =>
        ActorProps.Of(() => new ChannelPlacementActor(channelId, command, requester, nodes, settings));

    protected override void PreStart()
    {
        if (_nodes.Count == 0) { NotFound(); return; }
        foreach (var node in _nodes) NodeAt(node).Tell(new LocateChannel(_channelId));
        Timers.StartSingleTimer("timeout", Timeout.Instance, _settings.ClusterNodeTimeout);
    }

    private ActorSelection NodeAt(Address node) => Context.ActorSelection(new RootActorPath(node) / "user" / _settings.NodeName);

    private Address NodeOf(IActorRef sender) => sender.Path.Address.HasLocalScope ? _self : sender.Path.Address;

    private void Locating()
    {
        Receive<ChannelLocated>(l =>
        {
            if (l.Found) { Found(NodeOf(Sender)); return; }
            _answered.Add(NodeOf(Sender));
            if (_answered.Count == _nodes.Count) NotFound();
        });
        Receive<CommandRejected>(r =>
        {
            _log.Warning("Channel {Channel}: {Node} refused to locate it: {Message}", _channelId, Sender.Path.Address, r.Message);
            _answered.Add(NodeOf(Sender));
            if (_answered.Count == _nodes.Count) NotFound();
        });
        Receive<Timeout>(_ =>
        {
            // a node that does not answer (crashed, cut off, not yet seen unreachable) gets no new channel either
            var silent = _nodes.Where(n => !_answered.Contains(n)).ToList();
            foreach (var n in silent) _refused.Add(n.ToString());
            _log.Warning("Channel {Channel}: relay nodes {Nodes} did not say within {Timeout} whether they hold it; going on without them",
                _channelId, string.Join(", ", silent), _settings.ClusterNodeTimeout);
            NotFound();
        });
        ReceiveAny(Unhandled);
    }

    private void Found(Address node)
    {
        Timers.CancelAll();
        if (_command is OpenChannel open) Place(node, open); // the node's own idempotency answers the retry
        else if (_command is PlaceNear near) Place(node, near.Open);
        else
        {
            NodeAt(node).Tell(_command, _requester);
            Context.Stop(Self);
        }
    }

    private void NotFound()
    {
        Timers.CancelAll();
        if (_command is OpenChannel) { Choose(); return; }
        if (_command is PlaceNear near)
        {
            // with the channel it belongs with, or nowhere: a refusal there is the answer
            _refused.UnionWith(RelayMembership.UsableRelayNodes(Context.System, _settings.ClusterRole).Select(n => n.ToString()));
            var node = NodeOf(near.Near);
            Context.Parent.Tell(new PlacementEntryActor.PlacementStarted(node));
            Place(node, near.Open, counted: true);
            return;
        }
        _requester.Tell(new ChannelNotFound(_channelId));
        Context.Stop(Self);
    }

    private void Choose()
    {
        Context.Parent.Tell(new PlacementEntryActor.ChooseNode(_refused));
        Become(Choosing);
    }

    private void Choosing()
    {
        Receive<PlacementEntryActor.NodeChosen>(c =>
        {
            if (c.Node is null)
            {
                var why = _lastRefusal is { } r ? $"no relay node has room (last: {r.Message})" : $"no relay node has room ({_nodes.Count} usable)";
                _requester.Tell(new OpenRejected(_channelId, _lastRefusal?.Reason ?? RejectReason.Capacity, why));
                Context.Stop(Self);
                return;
            }
            Place(c.Node, _command as OpenChannel ?? ((PlaceNear)_command).Open, counted: true);
        });
        ReceiveAny(Unhandled);
    }

    private void Place(Address node, OpenChannel open, bool counted = false)
    {
        NodeAt(node).Tell(new PlaceChannel(open, _requester));
        Timers.StartSingleTimer("timeout", Timeout.Instance, _settings.ClusterNodeTimeout);
        Become(() => Placing(node, counted));
    }

    private void Placing(Address node, bool counted)
    {
        Receive<ChannelOpened>(o =>
        {
            if (counted) Context.Parent.Tell(new PlacementEntryActor.PlacementEnded(node, true));
            _log.Debug("Channel {Channel} placed on {Node}", _channelId, node);
            _requester.Tell(o);
            Context.Stop(Self);
        });
        Receive<OpenRejected>(r =>
        {
            Timers.CancelAll();
            if (counted) Context.Parent.Tell(new PlacementEntryActor.PlacementEnded(node, false));
            if (Array.IndexOf(TryElsewhere, r.Reason) >= 0)
            {
                _log.Info("Channel {Channel}: {Node} refused it ({Reason}: {Message}); trying another node", _channelId, node, r.Reason, r.Message);
                _refused.Add(node.ToString());
                _lastRefusal = r;
                Choose();
                return;
            }
            _requester.Tell(r);
            Context.Stop(Self);
        });
        Receive<Timeout>(_ =>
        {
            if (counted) Context.Parent.Tell(new PlacementEntryActor.PlacementEnded(node, false));
            if (!RelayMembership.UsableRelayNodes(Context.System, _settings.ClusterRole).Contains(node))
            {
                // the node is unreachable or gone now: whatever it opened is lost with it; the channel goes elsewhere
                _log.Warning("Channel {Channel}: {Node} did not answer and is no longer usable; trying another node", _channelId, node);
                _refused.Add(node.ToString());
                Choose();
                return;
            }
            // not elsewhere: the channel may be open there, and a second one must not be; a retry locates it
            _requester.Tell(new OpenRejected(_channelId, RejectReason.ChannelFailed,
                $"relay node {node} did not answer within {_settings.ClusterNodeTimeout}; retry the open (it finds the channel if it opened there)"));
            Context.Stop(Self);
        });
        ReceiveAny(Unhandled);
    }

    private sealed record Timeout
    {
        public static readonly Timeout Instance = new();
    }
}

/// <summary>
/// A cluster-wide ListChannels page or GetNodeStatus: asks every usable relay node, waits for each answer until
/// relay.cluster.node-timeout, and answers the supervisor with the merge (<see cref="ClusterFigures"/>); a status's
/// members carry the last load the entry point knows of each.
/// </summary>
internal sealed class ClusterQueryActor : ReceiveActor, IWithTimers
{
    private readonly IActorRef _requester;
    private readonly IReadOnlyList<Address> _nodes;
    private readonly RelaySettings _settings;
    private readonly IRelayCommand _query;
    private readonly IReadOnlyList<NodeLoad> _loads;
    private readonly List<ChannelList> _lists = new();
    private readonly List<NodeStatus> _statuses = new();
    private int _answers;

    public ITimerScheduler Timers { get; set; } = null!;

    public ClusterQueryActor(IRelayCommand query, IActorRef requester, IReadOnlyList<Address> nodes, RelaySettings settings, IReadOnlyList<NodeLoad>? loads = null)
    {
        _query = query;
        _loads = loads ?? [];
        _requester = requester;
        _nodes = nodes;
        _settings = settings;
        Receive<ChannelList>(l => { _lists.Add(l); Answered(); });
        Receive<NodeStatus>(s => { _statuses.Add(s); Answered(); });
        Receive<CommandRejected>(_ => Answered());
        Receive<Done>(_ => Finish());
        ReceiveAny(Unhandled);
    }

    public static Props Props(IRelayCommand query, IActorRef requester, IReadOnlyList<Address> nodes, RelaySettings settings,
        IReadOnlyList<NodeLoad>? loads = null) =>
        ActorProps.Of(() => new ClusterQueryActor(query, requester, nodes, settings, loads));

    protected override void PreStart()
    {
        foreach (var node in _nodes) Context.ActorSelection(new RootActorPath(node) / "user" / _settings.NodeName).Tell(_query);
        if (_nodes.Count == 0) Finish();
        else Timers.StartSingleTimer("timeout", Done.Instance, _settings.ClusterNodeTimeout);
    }

    private void Answered()
    {
        if (++_answers == _nodes.Count) Finish();
    }

    private void Finish()
    {
        _requester.Tell(_query is GetNodeStatus
            ? ClusterFigures.Sum(_statuses, ClusterFigures.WithLoads(RelayMembership.View(Context.System, _settings.ClusterRole), _loads))
            : ClusterFigures.Merge(_lists, ((ListChannelsFor)_query).Limit ?? _settings.ListPageSize));
        Context.Stop(Self);
    }

    private sealed record Done
    {
        public static readonly Done Instance = new();
    }
}

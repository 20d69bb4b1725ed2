using System.Net;
using Akka.Actor;
using Akka.Event;
using ActorRelay.Channels;
using ActorRelay.Control;
using ActorRelay.Persistence;
using ActorRelay.Ports;
using ActorRelay.Protocol;
using ActorRelay.RelayLoops;
using ActorRelay.Settings;
using ActorRelay.Sides;

namespace ActorRelay.Node;

/// <summary>
/// The relay node, the well-known entry point (/user/relay): routes every command, answering each exactly once (bad
/// ones, unreadable ones and unauthorised ones with a typed rejection), opens one ChannelActor per channel, and fans
/// channel events out to their subscribers, each subscriber once. Its book of channels, ports and counts is a
/// <see cref="ChannelRegistry"/>; requests are checked and planned by <see cref="ChannelPlanner"/>; who may do what is
/// the <see cref="ControlPolicy"/>. It watches the supervisor systems that own channels and closes the channels of
/// one that is gone once nobody listens to them any more and relay.control.opener-lost-grace has passed. With the
/// socket transport's epoll engine it owns the node's <see cref="RelayLoopPool"/> (stopped after every channel, so
/// every socket is closed). With relay.persistence on, a <see cref="ChannelJournalActor"/> child records what a restart
/// needs, and the node brings those channels back (same ports, latches, owner, subscribers) before it serves commands.
/// States: Restoring (with persistence) → Rebinding (while restored channels bind again) → Running → Draining.
/// </summary>
public sealed class RelayNodeActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private readonly RelaySettings _settings;
    private readonly RelayClock _clock;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ChannelRegistry _channels;
    private readonly ControlPolicy _policy;
    private readonly RelayLoopPool? _loops;
    private int _channelLimit;
    private readonly HashSet<IActorRef> _nodeSubscribers = new();
    private readonly Dictionary<Address, OwnerSystem> _owners = new();
    private IPAddress? _advertise;
    private long _sequence;
    private long _foreignEvents;
    /// <summary>Every DrainNode sender still waiting for NodeDrained (a coordinated shutdown's, and a second SIGTERM's that cuts it short).</summary>
    private readonly List<IActorRef> _drainRequesters = new();
    private IActorRef? _journal;
    private int _journalBacklog;
    private readonly Metrics.RelayMetrics? _metrics;
    private bool _draining;
    private bool _restoring;
    private readonly HashSet<IActorRef> _rebinding = [];
    /// <summary>The channel limit comes from the descriptors the process held as the node started (not given by the host).</summary>
    private readonly bool _limitMeasured;
    /// <summary>The most channels a ListChannels page holds: what fits one Akka.Remote frame (<see cref="ChannelListBound"/>).</summary>
    private int _maxPage = 1;
    /// <summary>Set while the node serves a relay peer's <see cref="PlaceChannel"/> or <see cref="ListChannelsFor"/>: the supervisor it acts for.</summary>
    private Address? _actingFor;

    /// <summary>Whose request this is: the sender's system, or the supervisor a relay peer acts for.</summary>
    private Address From => _actingFor ?? Sender.Path.Address;

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    public RelayNodeActor(RelaySettings settings, RelayClock clock, int? channelLimit, Metrics.RelayMetrics? metrics = null)
    {
        _settings = settings;
        _metrics = metrics;
        _clock = clock;
        _limitMeasured = channelLimit is null;
        _channelLimit = channelLimit ?? NodeCapacity.ChannelLimit(settings, null);
        _policy = settings.ControlPolicy;
        _channels = new ChannelRegistry(new PortPool(settings.PortMin, settings.PortMax));
        if (settings.UsesRelayLoops)
        {
            _loops = new RelayLoopPool(settings.RelayLoopCount, settings.MaxDatagram, settings.MaxQueueDelay,
                lag: settings.MetricsListen.Count > 0 ? metrics?.LoopLag : null, // the loops' histograms are for /metrics only
                nice: settings.RelayLoopNice,
                queueDelay: settings.MetricsListen.Count > 0 ? metrics?.QueueDelay : null);
            if (_loops.PriorityProblem() is { } why) _log.Warning("{Problem} (relay.relay-loop-nice needs root or CAP_SYS_NICE)", why);
        }
        if (settings.PersistenceEnabled) Restoring();
        else Running();
    }

    /// <param name="metrics">Where the node counts for Prometheus (null: nothing is counted for it).</param>
    public static Props Props(RelaySettings settings, RelayClock? clock = null, int? channelLimit = null, Metrics.RelayMetrics? metrics = null) =>
        Akka.Actor.Props.Create(() => new RelayNodeActor(settings, clock ?? RelayClock.System, channelLimit, metrics));

    private int Capacity => Math.Min(_channelLimit, _channels.PortsTotal / 2);

    private string Transport => _settings.Transport == SideTransport.Socket ? "socket" : "akka-io";

    protected override void PreStart()
    {
        RelayReferenceConfig.EnsureIn(Context.System); // channel mailboxes are configured there
        _advertise = _settings.AdvertiseAddress;
        if (_advertise is null && HostAddresses.IsUnspecified(_settings.BindAddress))
        {
            _advertise = HostAddresses.Primary();
            if (IPAddress.IsLoopback(_advertise))
                _log.Warning("Sides bind every interface and this host has no address but loopback: channels advertise {Address} (set relay.advertise-address)", _advertise);
            else
                _log.Info("Sides bind every interface; channels advertise the host's address {Address} (set relay.advertise-address to change it)", _advertise);
        }
        _maxPage = ChannelListBound.MaxPage(Context.System, Self.Path);
        if (_settings.ListPageSize > _maxPage)
            _log.Warning("relay.control.list-page-size {PageSize} is more than one Akka.Remote frame holds: ListChannels pages hold at most {MaxPage} channels",
                _settings.ListPageSize, _maxPage);
        if (_settings.PersistenceEnabled)
        {
            _journal = Context.ActorOf(ChannelJournalActor.Props(_settings), "journal");
            Context.Watch(_journal);
        }
        _log.Info("Relay node started: transport {Transport}, {Engine}, ports {Min}-{Max}, capacity {Capacity} channels",
            Transport,
            _loops is { } l ? $"{l.Count} relay loop(s) (epoll)" : _settings.Transport == SideTransport.Socket ? "runtime socket engine" : "Akka.IO",
            _settings.PortMin, _settings.PortMax, Capacity);
        _metrics?.NodeFigures(_channels.Count, _channels.PortsFree, NotReadyBecause());
    }

    /// <summary>Children (channels, sides) are stopped by now: their sockets' closes are queued on the loops, which close them as they stop.</summary>
    protected override void PostStop() => _loops?.Dispose();

    /// <summary>After every message the node's gauges and readiness are current (three stores: cheap).</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        _metrics?.NodeFigures(_channels.Count, _channels.PortsFree, NotReadyBecause());
        return handled;
    }

    private string? NotReadyBecause() =>
        _restoring ? "restoring channels" : _draining ? "draining" : _loops is { AllRunning: false } ? "a relay loop stopped"
        : _channels.PortsFree < 2 ? "no free port" : _channels.Count >= _channelLimit ? "at capacity" : null;

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        _log.Error(e, "A channel actor failed; stopping it (its sides free their ports)");
        return Directive.Stop;
    });

    // ---- states ---------------------------------------------------------------------------------

    /// <summary>Restoring: the journal replays what was open; every command waits until those channels are back.</summary>
    private void Restoring()
    {
        _restoring = true;
        Receive<JournalRecovered>(r =>
        {
            // the journal holds descriptors of its own now (its database): measure again, before any channel binds
            if (_limitMeasured) _channelLimit = Math.Min(_channelLimit, NodeCapacity.ChannelLimit(_settings, null));
            if (_channelLimit == 0 && r.Channels.Count > 0)
                // a node that can hold no channel does not run (the node process stops at once): what the journal holds
                // stays recorded for a start with room, instead of being closed for want of it
                _log.Warning("The node has room for no channel (its open-file limit): the {Count} channels " +
                             "its journal holds stay recorded, for a start with room", r.Channels.Count);
            else
                foreach (var channel in r.Channels.OrderBy(c => c.Opened.OpenedAt)) Restore(channel); // the oldest first, should room run out
            foreach (var record in _channels.Records) if (record.Restored) _rebinding.Add(record.Actor);
            if (_rebinding.Count > 0)
            {
                _log.Info("Rebinding the {Count} channels the journal held before answering commands", _rebinding.Count);
                Become(Rebinding);
                return;
            }
            _restoring = false;
            Become(Running);
            Stash.UnstashAll();
        });
        Receive<Terminated>(t => t.ActorRef.Equals(_journal), _ =>
        {
            _log.Error("The channel journal could not recover; the node starts without the channels it held");
            _journal = null;
            _restoring = false;
            Become(Running);
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    /// <summary>
    /// Rebinding: the restored channels bind their ports again. Commands wait (stashed) until every one of them is
    /// relaying or has failed, so the node's first answer (the node process's <c>All set.</c>) means media flows on
    /// the restored channels; what channels tell the node is handled as in <see cref="Running"/>.
    /// </summary>
    private void Rebinding()
    {
        Receive<ChannelReady>(r =>
        {
            OnReady(r);
            Rebound(Sender);
        });
        Receive<ChannelOpenFailed>(f =>
        {
            OnOpenFailed(f);
            Rebound(Sender);
        });
        Receive<Terminated>(t => _rebinding.Contains(t.ActorRef), t =>
        {
            OnTerminated(t);
            Rebound(t.ActorRef);
        });
        Receive<IRelayCommand>(_ => Stash.Stash());
        Common();
    }

    private void Rebound(IActorRef channel)
    {
        if (!_rebinding.Remove(channel) || _rebinding.Count > 0) return;
        _log.Info("Restored channels rebound: {Count} channels open", _channels.Count);
        _restoring = false;
        Become(Running);
        Stash.UnstashAll();
    }

    private void Running()
    {
        Receive<OpenChannel>(Open);
        Receive<DrainNode>(d =>
        {
            if (!Authorized(nameof(DrainNode), privileged: true)) return;
            _drainRequesters.Add(Sender);
            _draining = true;
            if (d.KeepChannelsFor is { } keep && keep > TimeSpan.Zero && _channels.Count > 0)
            {
                _log.Info("Node draining: no new channel; its {Count} channels are kept until they end, for at most {Deadline}", _channels.Count, keep);
                Timers.StartSingleTimer("drain-deadline", DrainDeadline.Instance, keep);
            }
            else CloseAllForDrain();
            Become(Draining);
            TryFinishDrain();
        });
        Common();
    }

    private void Draining()
    {
        Receive<OpenChannel>(o =>
        {
            if (Authorized(nameof(OpenChannel), openRequest: o)) Reject(o.ChannelId, RejectReason.ShuttingDown, "the node is stopping");
        });
        Receive<DrainNode>(d =>
        {
            if (!Authorized(nameof(DrainNode), privileged: true)) return;
            _drainRequesters.Add(Sender);
            if (d.KeepChannelsFor is null && Timers.IsTimerActive("drain-deadline"))
            {
                Timers.Cancel("drain-deadline");
                CloseAllForDrain(); // asked again without keeping them: now
            }
            TryFinishDrain();
        });
        Receive<DrainDeadline>(_ =>
        {
            _log.Info("Node drain deadline passed: closing the {Count} channels left", _channels.Count);
            CloseAllForDrain();
        });
        Common();
    }

    private void Common()
    {
        Receive<CloseChannel>(c => WithChannel(nameof(CloseChannel), c.ChannelId, r => r.Actor.Forward(c)));
        Receive<GetChannel>(g => WithChannel(nameof(GetChannel), g.ChannelId, r => r.Actor.Forward(g)));
        Receive<ResignalSide>(r => WithChannel(nameof(ResignalSide), r.ChannelId, c => c.Actor.Forward(r)));
        Receive<ListChannels>(l => ListFor(Sender.Path.Address, nameof(ListChannels), l.After, l.Limit));
        Receive<GetNodeStatus>(_ =>
        {
            if (Authorized(nameof(GetNodeStatus)))
                Sender.Tell(_channels.Status(Capacity, Transport) with
                {
                    ForeignEventsRefused = _foreignEvents, JournalBacklog = _journalBacklog, Draining = _draining,
                    Cluster = Cluster.RelayMembership.View(Context.System, _settings.ClusterRole),
                    PacketsRelayed = _metrics?.PacketsRelayed() ?? 0,
                    RelayLoopCpuMilliseconds = _loops?.Loops.Select(l => l.CpuTime?.TotalMilliseconds ?? 0).ToList(),
                });
        });

        // from the cluster's placement entry points (relay peers only)
        Receive<PlaceChannel>(p =>
        {
            if (!FromRelayPeer(nameof(PlaceChannel), p.Open?.ChannelId)) return;
            if (p.Open is null || p.Opener is null || p.Opener.IsNobody()) { Reject(p.Open?.ChannelId ?? "", RejectReason.InvalidRequest, "PlaceChannel needs the request and its opener"); return; }
            _actingFor = p.Opener.Path.Address;
            try
            {
                var open = p.Open.SubscribeOpener && p.Open.Subscriber is null ? p.Open with { Subscriber = p.Opener } : p.Open;
                if (_draining)
                {
                    if (Authorized(nameof(OpenChannel), openRequest: open)) Reject(open.ChannelId, RejectReason.ShuttingDown, "the node is draining");
                }
                else Open(open);
            }
            finally { _actingFor = null; }
        });
        Receive<LocateChannel>(l =>
        {
            if (FromRelayPeer(nameof(LocateChannel)))
                Sender.Tell(new ChannelLocated(l.ChannelId ?? "", _channels.TryGet(l.ChannelId, out var r) && !r.Failed));
        });
        Receive<ListChannelsFor>(l =>
        {
            if (!FromRelayPeer(nameof(ListChannelsFor))) return;
            if (l.Opener is null || l.Opener.IsNobody()) { RejectCommand(nameof(ListChannelsFor), "ListChannelsFor needs the supervisor it lists for"); return; }
            _actingFor = l.Opener.Path.Address;
            try { ListFor(_actingFor, nameof(ListChannelsFor), l.After, l.Limit); }
            finally { _actingFor = null; }
        });
        Receive<GetRuntimeStats>(r =>
        {
            if (!Authorized(nameof(GetRuntimeStats), privileged: r.CollectGarbage)) return;
            if (r.CollectGarbage) _log.Info("Collecting garbage on request (GetRuntimeStats): the node pauses briefly");
            Sender.Tell(RuntimeStatsReader.Read(r.CollectGarbage));
        });
        Receive<Subscribe>(OnSubscribe);
        Receive<Unsubscribe>(OnUnsubscribe);
        Receive<UnreadableMessage>(u =>
        {
            _channels.CountRejected(RejectReason.Unreadable);
            _log.Warning("Unreadable message {Manifest} from {Sender}: {Reason}", u.Manifest, Sender.Path, u.Reason);
            if (!IsAnonymous(Sender)) Sender.Tell(new CommandRejected(u.Manifest, RejectReason.Unreadable, u.Reason));
        });

        // from channels
        Receive<ChannelReady>(OnReady);
        Receive<ChannelOpenFailed>(OnOpenFailed);
        Receive<ReplacePort>(OnReplacePort);
        Receive<ChannelClosing>(_ => { if (_channels.TryGet(Sender, out var r)) r.State = ChannelState.Closing; });
        Receive<ChannelEvent>(e =>
        {
            if (!_channels.TryGet(Sender, out var r)) { RefuseForeignEvent(e.Event); return; }
            if (e.Event is SideLatched or SourceChanged) _metrics?.Latched(moved: e.Event is SourceChanged);
            Publish(r, e.Event);
        });
        Receive<ChannelFinished>(OnFinished);
        Receive<IChannelEvent>(RefuseForeignEvent); // events come from the node's own channels only (wrapped), never over the wire

        // persistence
        Receive<ChannelLatched>(l =>
        {
            if (_channels.TryGet(Sender, out var r))
                Record(new LatchRecorded(r.Id, l.Side, l.Latch.Source.Address.ToString(), l.Latch.Source.Port, l.Latch.Ssrc, l.Latch.CarriesRtp));
        });
        Receive<ChannelJournalActor.Written>(w => _journalBacklog = Math.Max(0, _journalBacklog - w.Count));
        Receive<Terminated>(t => t.ActorRef.Equals(_journal), _ =>
        {
            _log.Error("The channel journal stopped; channels keep relaying, but are no longer recorded for a restart");
            _journal = null;
            _journalBacklog = 0;
        });

        // orphans
        Receive<OpenerLostGraceOver>(OnGraceOver);
        Receive<Terminated>(OnTerminated);

        ReceiveAny(m =>
        {
            if (IsAnonymous(Sender))
            {
                _log.Warning("Unknown message {Type} without a sender: nobody to answer", m?.GetType().FullName ?? "null");
                Unhandled(m);
                return;
            }
            RejectCommand(m?.GetType().Name ?? "null", $"unknown command {m?.GetType().FullName ?? "null"}");
        });
    }

    /// <summary>One page of the channels <paramref name="from"/> may see (<see cref="ChannelPaging"/>).</summary>
    private void ListFor(Address from, string command, string? after, int? limit)
    {
        if (!Authorized(command)) return;
        var (size, error) = ChannelPaging.Limit(limit, _settings.ListPageSize, _maxPage);
        if (error is not null) { RejectCommand(command, error); return; }
        Sender.Tell(ChannelPaging.Page(_channels.Records
            .Where(r => r.Opened is not null && ChannelPaging.IsAfter(r.Id, after) && _policy.MayUse(from, r.Owner))
            .Select(r => new ChannelSummary(r.Id, r.State, r.Opened!.Left, r.Opened.Right, r.Actor)), after, size));
    }

    // ---- authorisation ---------------------------------------------------------------------------

    /// <summary>
    /// True when the sender is a relay peer: the node's own process, or a member of its cluster with the relay role.
    /// Otherwise answers NotAuthorized (an open with OpenRejected) and returns false.
    /// </summary>
    private bool FromRelayPeer(string command, string? channelId = null)
    {
        if (!IsAnonymous(Sender) && Cluster.RelayMembership.IsRelayPeer(Context.System, Sender.Path.Address, _settings.ClusterRole)) return true;
        var why = $"{command} is for the relay nodes of this node's cluster, {Sender.Path.Address} is not one";
        _channels.CountRejected(RejectReason.NotAuthorized);
        _log.Warning("Refused {Command} from {Sender}: {Why}", command, Sender.Path, why);
        if (IsAnonymous(Sender)) return false;
        if (channelId is not null) Sender.Tell(new OpenRejected(channelId, RejectReason.NotAuthorized, why));
        else Sender.Tell(new CommandRejected(command, RejectReason.NotAuthorized, why));
        return false;
    }

    private static bool IsAnonymous(IActorRef sender) => sender.IsNobody() || sender is DeadLetterActorRef;

    /// <summary>
    /// True when the sender may run <paramref name="command"/>; otherwise answers it with NotAuthorized (an open with
    /// OpenRejected) and returns false. A message without a sender is never trusted: over the wire it could come
    /// from anyone, and there is nobody to answer.
    /// </summary>
    private bool Authorized(string command, bool privileged = false, ChannelRecord? channel = null, OpenChannel? openRequest = null)
    {
        string? why = null;
        var from = From;
        if (IsAnonymous(Sender)) why = "a command without a sender is not accepted";
        else if (!_policy.IsAllowed(from) && !Cluster.RelayMembership.IsRelayPeer(Context.System, from, _settings.ClusterRole))
            why = $"{from} is not in relay.control.allow";
        else if (privileged && !_policy.IsAdministrator(from)) why = $"{command} is for administrators (relay.control.administrators), {from} is not one";
        else if (channel is not null && !_policy.MayUse(from, channel.Owner)) why = $"channel {channel.Id} belongs to another supervisor";
        if (why is null) return true;
        _channels.CountRejected(RejectReason.NotAuthorized);
        _log.Warning("Refused {Command} from {Sender}: {Why}", command, Sender.Path, why);
        if (IsAnonymous(Sender)) return false;
        if (openRequest is not null) Sender.Tell(new OpenRejected(openRequest.ChannelId ?? "", RejectReason.NotAuthorized, why));
        else Sender.Tell(new CommandRejected(command, RejectReason.NotAuthorized, why));
        return false;
    }

    private void RefuseForeignEvent(IChannelEvent e)
    {
        _foreignEvents++;
        _log.Warning("Refused a {Event} for channel {Channel} from {Sender}: events come from the node's own channels only",
            e.GetType().Name, e.ChannelId, Sender.Path);
        if (!IsAnonymous(Sender) && !Sender.Path.Address.HasLocalScope)
            Sender.Tell(new CommandRejected(e.GetType().Name, RejectReason.NotAuthorized, "events are not accepted by the node"));
    }

    // ---- open ----------------------------------------------------------------------------------

    private void Open(OpenChannel o)
    {
        if (!Authorized(nameof(OpenChannel), openRequest: o)) return;
        if (ChannelPlanner.Validate(o) is { } invalid) { Reject(o.ChannelId ?? "", invalid.Reason, invalid.Message); return; }

        var listener = o.SubscribeOpener ? o.Subscriber ?? Sender : null;
        if (_channels.TryGet(o.ChannelId, out var existing))
        {
            if (!_policy.MayUse(From, existing.Owner))
            {
                Reject(o.ChannelId, RejectReason.Conflict, $"channel {o.ChannelId} is open, opened by another supervisor");
                return;
            }
            if (!existing.Request.WithoutListener().Equals(o.WithoutListener()))
            {
                Reject(o.ChannelId, RejectReason.Conflict, $"channel {o.ChannelId} is already open with different parameters");
                return;
            }
            if (existing.State == ChannelState.Closing)
            {
                Reject(o.ChannelId, RejectReason.Conflict, $"channel {o.ChannelId} is closing; open it again once it is closed");
                return;
            }
            if (listener is not null && !existing.Failed) AddSubscriber(existing, listener); // the retrier hears the events too
            if (existing.Opened is not null) Sender.Tell(existing.Opened);
            else if (existing.Rejection is not null) Sender.Tell(existing.Rejection); // failed, still freeing its ports
            else existing.Waiting.Add(Sender);
            return;
        }

        if (_channels.Count >= _channelLimit)
        {
            Reject(o.ChannelId, RejectReason.Capacity, $"the node holds its maximum of {_channelLimit} channels");
            return;
        }
        if (!_channels.TryTakePort(o.Left, out var leftPort, out var leftError))
        {
            Reject(o.ChannelId, leftError.Reason, $"left: {leftError.Message}");
            return;
        }
        if (!_channels.TryTakePort(o.Right, out var rightPort, out var rightError))
        {
            _channels.Release(leftPort);
            Reject(o.ChannelId, rightError.Reason, $"right: {rightError.Message}");
            return;
        }

        var spec = ChannelPlanner.Plan(o, leftPort, rightPort, _settings, _advertise, _clock, _loops?.Next(), metrics: _metrics);
        var actor = ActorProps.Spawn(Context, ChannelActor.Props(spec, Self), $"channel-{++_sequence}");
        Context.Watch(actor);
        var record = new ChannelRecord(o.ChannelId, o, actor, From);
        record.Ports.Add(leftPort);
        record.Ports.Add(rightPort);
        record.Waiting.Add(Sender);
        if (listener is not null) AddSubscriber(record, listener);
        _channels.Add(record);
        TrackOwner(record);
    }

    private void OnReady(ChannelReady r)
    {
        if (!_channels.TryGet(Sender, out var record)) return;
        record.Opened = r.Opened;
        record.State = ChannelState.Open;
        _channels.CountOpened();
        _metrics?.ChannelOpened();
        if (!record.Restored)
        {
            Record(new ChannelRecorded(record.Id, record.Request.WithoutListener() with { SubscribeOpener = record.Request.SubscribeOpener },
                record.Ports[0], record.Ports[1], OwnerText(record.Owner), _clock.WallNow));
            // the open carries the owner and no listener: only a channel that has listeners already needs their entry
            if (record.Subscribers is { Count: > 0 }) RecordListeners(record);
        }
        foreach (var w in record.Waiting) w.Tell(r.Opened);
        record.Waiting.Clear();
    }

    private void OnOpenFailed(ChannelOpenFailed f)
    {
        if (!_channels.TryGet(Sender, out var record)) return;
        _channels.CountRejected(f.Rejection.Reason);
        _metrics?.OpenRejected(f.Rejection.Reason);
        foreach (var w in record.Waiting) w.Tell(f.Rejection);
        record.Waiting.Clear();
        record.Subscribers = null; // nobody saw it open: no ChannelClosed for them
        record.Rejection = f.Rejection;
        // the record stays (ports held) until the channel has closed its sides: ChannelFinished
    }

    private void OnReplacePort(ReplacePort r)
    {
        if (!_channels.TryGet(Sender, out var record)) return;
        Sender.Tell(new PortReplaced(r.Side, _channels.ReplacePort(record, r.Port)));
    }

    // ---- subscriptions and events ----------------------------------------------------------------

    private void OnSubscribe(Subscribe s)
    {
        if (s.Subscriber is null || s.Subscriber.IsNobody()) { RejectCommand(nameof(Subscribe), "Subscriber must be an actor"); return; }
        if (s.ChannelId is null)
        {
            if (!Authorized(nameof(Subscribe) + " (every channel)", privileged: true)) return;
            if (_nodeSubscribers.Add(s.Subscriber)) Context.Watch(s.Subscriber);
            Sender.Tell(new Subscribed(null));
            return;
        }
        WithChannel(nameof(Subscribe), s.ChannelId, r =>
        {
            AddSubscriber(r, s.Subscriber);
            if (r.OwnerGone && ControlPolicy.SameSupervisor(Sender.Path.Address, r.Owner) && !Sender.Path.Address.Equals(r.Owner))
            {
                // the supervisor came back (a restart on another port): it owns its calls again
                r.Owner = Sender.Path.Address;
                TrackOwner(r);
            }
            RecordListeners(r);
            Sender.Tell(new Subscribed(s.ChannelId));
        });
    }

    private void OnUnsubscribe(Unsubscribe u)
    {
        if (u.ChannelId is null)
        {
            if (!Authorized(nameof(Unsubscribe) + " (every channel)", privileged: true)) return;
            _nodeSubscribers.Remove(u.Subscriber);
            Sender.Tell(new Unsubscribed(null));
            return;
        }
        WithChannel(nameof(Unsubscribe), u.ChannelId, r =>
        {
            r.Subscribers?.Remove(u.Subscriber);
            CheckOrphan(r);
            RecordListeners(r);
            Sender.Tell(new Unsubscribed(u.ChannelId));
        });
    }

    private void AddSubscriber(ChannelRecord record, IActorRef subscriber)
    {
        if (IsAnonymous(subscriber)) return;
        if ((record.Subscribers ??= new()).Add(subscriber)) Context.Watch(subscriber);
        CheckOrphan(record);
    }

    /// <summary>Sends <paramref name="e"/> once to each of: <paramref name="also"/>, the channel's subscribers, the node-wide subscribers.</summary>
    private void Publish(ChannelRecord record, IChannelEvent e, IReadOnlyList<IActorRef>? also = null)
    {
        var sent = new HashSet<IActorRef>();
        if (also is not null) foreach (var a in also) if (sent.Add(a)) a.Tell(e);
        if (record.Subscribers is not null) foreach (var s in record.Subscribers) if (sent.Add(s)) s.Tell(e);
        foreach (var s in _nodeSubscribers) if (sent.Add(s)) s.Tell(e);
    }

    // ---- owners and orphans ----------------------------------------------------------------------

    /// <summary>
    /// The node watches each remote system that owns channels through its user guardian, which lives as long as the
    /// system: Akka.Remote's death watch reports it terminated when the system shuts down or its failure detector gives
    /// the system up (a kill -9, a lost host).
    /// </summary>
    private void TrackOwner(ChannelRecord record)
    {
        var owner = record.Owner;
        record.OwnerGone = false;
        if (owner.HasLocalScope) return; // the node's own process: it lives as long as the channel
        if (!_owners.TryGetValue(owner, out var system))
        {
            var guardian = ((ExtendedActorSystem)Context.System).Provider.ResolveActorRef(new RootActorPath(owner) / "user");
            _owners[owner] = system = new OwnerSystem(guardian);
            Context.Watch(guardian);
        }
        system.Channels.Add(record.Id);
        CheckOrphan(record);
    }

    private void OnOwnerGone(Address owner)
    {
        if (!_owners.Remove(owner, out var system)) return;
        _log.Info("Supervisor system {Owner} is gone: its {Count} channels close after {Grace} unless a supervisor subscribes again",
            owner, system.Channels.Count, _settings.OpenerLostGrace);
        foreach (var id in system.Channels)
            if (_channels.TryGet(id, out var r) && r.Owner.Equals(owner))
            {
                r.OwnerGone = true;
                CheckOrphan(r);
            }
    }

    /// <summary>An orphan: its owner system is gone and nobody listens to it. Its grace runs while it stays one.</summary>
    private void CheckOrphan(ChannelRecord r)
    {
        var orphan = r.OwnerGone && (r.Subscribers is null || r.Subscribers.Count == 0) && !r.Failed;
        var key = ("orphan", r.Id);
        if (orphan && !Timers.IsTimerActive(key))
            Timers.StartSingleTimer(key, new OpenerLostGraceOver(r.Id, r.Actor), _settings.OpenerLostGrace);
        else if (!orphan) Timers.Cancel(key);
    }

    private void OnGraceOver(OpenerLostGraceOver g)
    {
        if (!_channels.TryGet(g.ChannelId, out var r) || !r.Actor.Equals(g.Channel)) return;
        _log.Warning("Channel {Channel}: its supervisor {Owner} is gone and nobody subscribed again within {Grace}; closing it",
            r.Id, r.Owner, _settings.OpenerLostGrace);
        r.Actor.Tell(new CloseWithReason(CloseReason.OpenerLost, $"the supervisor {r.Owner} is gone"));
    }

    // ---- close ---------------------------------------------------------------------------------

    private void OnFinished(ChannelFinished f)
    {
        if (!_channels.TryGet(Sender, out var record)) return;
        Forget(record);
        if (!record.Failed)
        {
            _channels.CountClosed(f.Closed.Reason);
            _metrics?.ChannelClosed(f.Closed.Reason);
            _metrics?.CallEnded(f.Closed.Final);
            Publish(record, f.Closed, f.CloseRequesters);
        }
        Sender.Tell(ChannelFinishedAck.Instance);
    }

    private void OnTerminated(Terminated t)
    {
        if (_channels.TryGet(t.ActorRef, out var record))
        {
            // The channel actor stopped without ChannelFinished (it failed): its sides stopped with it
            // and freed their sockets; release the ports and tell whoever waits.
            Forget(record);
            if (record.Opened is null && !record.Failed)
            {
                _channels.CountRejected(RejectReason.ChannelFailed);
                _metrics?.OpenRejected(RejectReason.ChannelFailed);
                foreach (var w in record.Waiting) w.Tell(new OpenRejected(record.Id, RejectReason.ChannelFailed, "the channel failed while opening"));
            }
            else if (record.Opened is not null)
            {
                _channels.CountClosed(CloseReason.SideFailed);
                _metrics?.ChannelClosed(CloseReason.SideFailed);
                var empty = new SideSnapshot(Side.Left, record.Opened.Left, null, 0, 0, 0, 0, new Dictionary<DropReason, long>(), 0, null);
                Publish(record, new ChannelClosed(record.Id, CloseReason.SideFailed, "the channel actor failed",
                    new ChannelSnapshot(record.Id, ChannelState.Closing, record.Request.Options?.LatchMode ?? _settings.LatchMode,
                        _clock.WallNow, empty, empty with { Side = Side.Right, Local = record.Opened.Right })));
            }
            return;
        }
        if (t.ActorRef.Path.Name == "user" && _owners.TryGetValue(t.ActorRef.Path.Address, out var gone) && gone.Guardian.Equals(t.ActorRef))
        {
            OnOwnerGone(t.ActorRef.Path.Address);
            return;
        }
        // a subscriber is gone
        _nodeSubscribers.Remove(t.ActorRef);
        foreach (var r in _channels.Records)
            if (r.Subscribers?.Remove(t.ActorRef) == true)
            {
                CheckOrphan(r);
                RecordListeners(r);
            }
    }

    private void Forget(ChannelRecord record)
    {
        Record(new ChannelForgotten(record.Id));
        Context.Unwatch(record.Actor);
        Timers.Cancel(("orphan", record.Id));
        if (_owners.TryGetValue(record.Owner, out var system)) system.Channels.Remove(record.Id);
        _channels.Forget(record);
        TryFinishDrain();
    }

    private void CloseAllForDrain()
    {
        _log.Info("Node draining: closing {Count} channels", _channels.Count);
        foreach (var r in _channels.Records) r.Actor.Tell(CloseWithReason.NodeStopping);
    }

    private void TryFinishDrain()
    {
        if (_drainRequesters.Count == 0 || _channels.Count > 0) return;
        Timers.Cancel("drain-deadline");
        _log.Info("Node drained: all channels closed, all ports released");
        var drained = new NodeDrained(_channels.PortsFree, _channels.PortsTotal);
        var requesters = _drainRequesters.ToList();
        _drainRequesters.Clear();
        if (_journal is null)
        {
            foreach (var r in requesters) r.Tell(drained);
            return;
        }
        // the closes must be written before the node stops, or the next start would bring the channels back
        var flushed = _journal.Ask<ChannelJournalActor.Flushed>(ChannelJournalActor.FlushNow.Instance, _settings.CloseTimeout)
            .ContinueWith(_ => drained, TaskContinuationOptions.ExecuteSynchronously);
        foreach (var r in requesters) flushed.PipeTo(r);
    }

    // ---- persistence ---------------------------------------------------------------------------

    private void Record(JournalEntry entry)
    {
        if (_journal is null) return;
        _journalBacklog++;
        _journal.Tell(new ChannelJournalActor.Record(entry));
    }

    private void RecordListeners(ChannelRecord r)
    {
        if (_journal is null || r.Opened is null && !r.Restored) return; // recorded with its open
        Record(new ListenersRecorded(r.Id, r.Subscribers?.Select(Akka.Serialization.Serialization.SerializedActorPath).ToList() ?? [],
            OwnerText(r.Owner)));
    }

    private static string? OwnerText(Address owner) => owner.HasLocalScope ? null : owner.ToString();

    /// <summary>
    /// Brings back a channel the journal held: the same ports (the clients know them), options and latches, its owner and
    /// subscribers. One whose maximum lifetime or setup timeout ran out while the node was down closes at once, with
    /// that reason, and its subscribers hear it.
    /// </summary>
    private void Restore(RecordedChannel c)
    {
        var o = c.Opened.Request;
        var owner = c.Owner is { } text ? Address.Parse(text) : Self.Path.Address;
        var subscribers = c.Subscribers.Select(p => ((ExtendedActorSystem)Context.System).Provider.ResolveActorRef(p))
            .Where(a => !a.IsNobody()).ToList();
        var maxLifetime = o.Options?.MaxLifetime ?? _settings.MaxLifetime;
        var setupTimeout = o.Options?.SetupTimeout ?? _settings.SetupTimeout;
        var age = _clock.WallNow - c.Opened.OpenedAt;
        CloseReason? expired = maxLifetime > TimeSpan.Zero && age >= maxLifetime ? CloseReason.MaxLifetime
            : setupTimeout > TimeSpan.Zero && age >= setupTimeout && (c.Left is null || c.Right is null) ? CloseReason.SetupTimeout
            : null;
        if (expired is { } reason)
        {
            _log.Info("Channel {Channel} expired while the node was down ({Reason}); closed", o.ChannelId, reason);
            CloseUnrestored(c, subscribers, reason, $"{reason} ran out while the node was down");
            return;
        }
        if (_channels.Count >= _channelLimit)
        {
            // Each channel holds two sockets: restoring past the open-file limit would leave the node no descriptor for
            // its own threads, assemblies and journal (it fails in all of them at once). The oldest come back.
            _log.Warning("Channel {Channel} cannot come back: the node now holds at most {Limit} channels (its open-file limit or " +
                         "relay.max-channels); closed", o.ChannelId, _channelLimit);
            CloseUnrestored(c, subscribers, CloseReason.Capacity,
                $"the node came back with room for {_channelLimit} channels (open-file limit or relay.max-channels)");
            return;
        }
        if (!_channels.TryTakePort(new SideRequest(c.Opened.LeftPort), out var left, out var why))
        {
            NotBack(why.Message);
            return;
        }
        if (!_channels.TryTakePort(new SideRequest(c.Opened.RightPort), out var right, out why))
        {
            _channels.Release(left); // taken a moment ago: not this channel's any more
            NotBack(why.Message);
            return;
        }
        var restore = new ChannelRestore(c.Opened.OpenedAt,
            c.Left is { } l ? new LatchRestore(l.EndPoint, l.Ssrc, l.CarriesRtp) : null,
            c.Right is { } r ? new LatchRestore(r.EndPoint, r.Ssrc, r.CarriesRtp) : null);
        var spec = ChannelPlanner.Plan(o, left, right, _settings, _advertise, _clock, _loops?.Next(), restore, _metrics);
        var actor = ActorProps.Spawn(Context, ChannelActor.Props(spec, Self), $"channel-{++_sequence}");
        Context.Watch(actor);
        var record = new ChannelRecord(o.ChannelId, o, actor, owner) { Restored = true };
        record.Ports.Add(left);
        record.Ports.Add(right);
        _channels.Add(record);
        foreach (var s in subscribers) AddSubscriber(record, s);
        TrackOwner(record);
        _log.Info("Channel {Channel} restored on ports {Left}/{Right}", o.ChannelId, left, right);

        // a journal that names one port twice (it was not written by this node alone)
        void NotBack(string why)
        {
            _log.Warning("Channel {Channel} cannot come back: {Why}; closed", o.ChannelId, why);
            CloseUnrestored(c, subscribers, CloseReason.SideFailed, $"its port could not be taken again: {why}");
        }
    }

    /// <summary>A recorded channel that does not come back: counted and forgotten, its subscribers told why.</summary>
    private void CloseUnrestored(RecordedChannel c, IReadOnlyList<IActorRef> subscribers, CloseReason reason, string detail)
    {
        var o = c.Opened.Request;
        _channels.CountClosed(reason);
        _metrics?.ChannelClosed(reason);
        Record(new ChannelForgotten(o.ChannelId));
        var local = new RelayEndpoint((_advertise ?? _settings.BindAddress).ToString(), c.Opened.LeftPort);
        var empty = new SideSnapshot(Side.Left, local, null, 0, 0, 0, 0, new Dictionary<DropReason, long>(), 0, null);
        var closed = new ChannelClosed(o.ChannelId, reason, detail,
            new ChannelSnapshot(o.ChannelId, ChannelState.Closing, o.Options?.LatchMode ?? _settings.LatchMode, c.Opened.OpenedAt,
                empty, empty with { Side = Side.Right, Local = local with { Port = c.Opened.RightPort } }));
        foreach (var s in subscribers) s.Tell(closed);
    }

    // ---- replies -------------------------------------------------------------------------------

    /// <summary>
    /// Runs <paramref name="action"/> for a channel the sender may use (opening, open or closing); ChannelNotFound when
    /// there is none by that id (or it failed to open), NotAuthorized when another supervisor owns it.
    /// </summary>
    private void WithChannel(string command, string? id, Action<ChannelRecord> action)
    {
        if (!Authorized(command)) return;
        if (!_channels.TryGet(id, out var r) || r.Failed) { Sender.Tell(new ChannelNotFound(id ?? "")); return; }
        if (Authorized(command, channel: r)) action(r);
    }

    private void Reject(string id, RejectReason reason, string message)
    {
        _channels.CountRejected(reason);
        _metrics?.OpenRejected(reason);
        _log.Warning("Open {Channel} rejected: {Reason} {Message}", id, reason, message);
        Sender.Tell(new OpenRejected(id, reason, message));
    }

    private void RejectCommand(string command, string message)
    {
        _channels.CountRejected(RejectReason.InvalidRequest);
        Sender.Tell(new CommandRejected(command, RejectReason.InvalidRequest, message));
    }

    /// <summary>A remote system that owns channels: its watched user guardian and its channels' ids.</summary>
    private sealed class OwnerSystem(IActorRef guardian)
    {
        public IActorRef Guardian { get; } = guardian;
        public HashSet<string> Channels { get; } = new(StringComparer.Ordinal);
    }

    private sealed record OpenerLostGraceOver(string ChannelId, IActorRef Channel);

    private sealed record DrainDeadline
    {
        public static readonly DrainDeadline Instance = new();
    }
}

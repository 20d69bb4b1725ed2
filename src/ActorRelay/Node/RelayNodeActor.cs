using Akka.Actor;
using Akka.Event;
using ActorRelay.Channels;
using ActorRelay.Ports;
using ActorRelay.Protocol;
using ActorRelay.RelayLoops;
using ActorRelay.Settings;

namespace ActorRelay.Node;

/// <summary>
/// The relay node, the well-known entry point (/user/relay): routes every command (answering bad ones with a typed
/// rejection), opens one ChannelActor per channel, and fans channel events out to their subscribers, each
/// subscriber once. Its book of channels, ports and counts is a <see cref="ChannelRegistry"/>; requests are checked
/// and planned by <see cref="ChannelPlanner"/>. With the socket transport's epoll engine it owns the node's
/// <see cref="RelayLoopPool"/> (stopped after every channel, so every socket is closed).
/// States: Running → Draining.
/// </summary>
public sealed class RelayNodeActor : ReceiveActor
{
    private readonly RelaySettings _settings;
    private readonly RelayClock _clock;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ChannelRegistry _channels;
    private readonly RelayLoopPool? _loops;
    private readonly int _channelLimit;
    private readonly HashSet<IActorRef> _nodeSubscribers = new();
    private long _sequence;
    private IActorRef? _drainRequester;

    public RelayNodeActor(RelaySettings settings, RelayClock clock, int channelLimit)
    {
        _settings = settings;
        _clock = clock;
        _channelLimit = channelLimit;
        _channels = new ChannelRegistry(new PortPool(settings.PortMin, settings.PortMax));
        if (settings.UsesRelayLoops) _loops = new RelayLoopPool(settings.RelayLoopCount, settings.MaxDatagram, settings.MaxQueueDelay);
        Running();
    }

    public static Props Props(RelaySettings settings, RelayClock? clock = null, int? channelLimit = null) =>
        Akka.Actor.Props.Create(() => new RelayNodeActor(settings, clock ?? RelayClock.System, channelLimit ?? NodeCapacity.ChannelLimit(settings, null)));

    private int Capacity => Math.Min(_channelLimit, _channels.PortsTotal / 2);

    private string Transport => _settings.Transport == SideTransport.Socket ? "socket" : "akka-io";

    protected override void PreStart()
    {
        RelayReferenceConfig.EnsureIn(Context.System); // channel mailboxes are configured there
        _log.Info("Relay node started: transport {Transport}, {Engine}, ports {Min}-{Max}, capacity {Capacity} channels",
            Transport,
            _loops is { } l ? $"{l.Count} relay loop(s) (epoll)" : _settings.Transport == SideTransport.Socket ? "runtime socket engine" : "Akka.IO",
            _settings.PortMin, _settings.PortMax, Capacity);
    }

    /// <summary>Children (channels, sides) are stopped by now: their sockets' closes are queued on the loops, which close them as they stop.</summary>
    protected override void PostStop() => _loops?.Dispose();

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        _log.Error(e, "A channel actor failed; stopping it (its sides free their ports)");
        return Directive.Stop;
    });

    // ---- states ---------------------------------------------------------------------------------

    private void Running()
    {
        Receive<OpenChannel>(Open);
        Receive<DrainNode>(_ =>
        {
            _drainRequester = Sender;
            _log.Info("Node draining: closing {Count} channels", _channels.Count);
            foreach (var r in _channels.Records) r.Actor.Tell(CloseForShutdown.Instance);
            Become(Draining);
            TryFinishDrain();
        });
        Common();
    }

    private void Draining()
    {
        Receive<OpenChannel>(o => Reject(o.ChannelId, RejectReason.ShuttingDown, "the node is stopping"));
        Receive<DrainNode>(_ => { _drainRequester = Sender; TryFinishDrain(); });
        Common();
    }

    private void Common()
    {
        Receive<CloseChannel>(c => WithChannel(c.ChannelId, r => r.Actor.Forward(c)));
        Receive<GetChannel>(g => WithChannel(g.ChannelId, r => r.Actor.Forward(g)));
        Receive<ResignalSide>(r => WithChannel(r.ChannelId, c => c.Actor.Forward(r)));
        Receive<ListChannels>(_ => Sender.Tell(new ChannelList(_channels.Records
            .Where(r => r.Opened is not null)
            .Select(r => new ChannelSummary(r.Id, r.State, r.Opened!.Left, r.Opened.Right, r.Actor))
            .OrderBy(s => s.ChannelId, StringComparer.Ordinal).ToList())));
        Receive<GetNodeStatus>(_ => Sender.Tell(_channels.Status(Capacity, Transport)));
        Receive<GetRuntimeStats>(r =>
        {
            if (r.CollectGarbage) _log.Info("Collecting garbage on request (GetRuntimeStats): the node pauses briefly");
            Sender.Tell(RuntimeStatsReader.Read(r.CollectGarbage));
        });
        Receive<Subscribe>(OnSubscribe);
        Receive<Unsubscribe>(OnUnsubscribe);

        // from channels
        Receive<ChannelReady>(OnReady);
        Receive<ChannelOpenFailed>(OnOpenFailed);
        Receive<ReplacePort>(OnReplacePort);
        Receive<ChannelEvent>(e => { if (_channels.TryGet(Sender, out var r)) Publish(r, e.Event); });
        Receive<ChannelFinished>(OnFinished);
        Receive<Terminated>(OnTerminated);

        ReceiveAny(m =>
        {
            if (Sender.IsNobody() || Sender.Equals(Context.System.DeadLetters)) { Unhandled(m); return; } // nobody to answer
            RejectCommand(m?.GetType().Name ?? "null", $"unknown command {m?.GetType().FullName ?? "null"}");
        });
    }

    // ---- open ----------------------------------------------------------------------------------

    private void Open(OpenChannel o)
    {
        if (ChannelPlanner.Validate(o) is { } invalid) { Reject(o.ChannelId ?? "", invalid.Reason, invalid.Message); return; }

        if (_channels.TryGet(o.ChannelId, out var existing))
        {
            if (!existing.Request.Equals(o))
            {
                Reject(o.ChannelId, RejectReason.Conflict, $"channel {o.ChannelId} is already open with different parameters");
                return;
            }
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

        var spec = ChannelPlanner.Plan(o, leftPort, rightPort, _settings, _clock, _loops?.Next());
        var actor = Context.ActorOf(ChannelActor.Props(spec, Self), $"channel-{++_sequence}");
        Context.Watch(actor);
        var record = new ChannelRecord(o.ChannelId, o, actor);
        record.Ports.Add(leftPort);
        record.Ports.Add(rightPort);
        record.Waiting.Add(Sender);
        if (o.SubscribeOpener) AddSubscriber(record, Sender);
        _channels.Add(record);
    }

    private void OnReady(ChannelReady r)
    {
        if (!_channels.TryGet(Sender, out var record)) return;
        record.Opened = r.Opened;
        record.State = ChannelState.Open;
        _channels.CountOpened();
        foreach (var w in record.Waiting) w.Tell(r.Opened);
        record.Waiting.Clear();
    }

    private void OnOpenFailed(ChannelOpenFailed f)
    {
        if (!_channels.TryGet(Sender, out var record)) return;
        _channels.CountRejected(f.Rejection.Reason);
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
            if (_nodeSubscribers.Add(s.Subscriber)) Context.Watch(s.Subscriber);
            Sender.Tell(new Subscribed(null));
            return;
        }
        WithChannel(s.ChannelId, r =>
        {
            AddSubscriber(r, s.Subscriber);
            Sender.Tell(new Subscribed(s.ChannelId));
        });
    }

    private void OnUnsubscribe(Unsubscribe u)
    {
        if (u.ChannelId is null)
        {
            _nodeSubscribers.Remove(u.Subscriber);
            Sender.Tell(new Unsubscribed(null));
            return;
        }
        WithChannel(u.ChannelId, r =>
        {
            r.Subscribers?.Remove(u.Subscriber);
            Sender.Tell(new Unsubscribed(u.ChannelId));
        });
    }

    private void AddSubscriber(ChannelRecord record, IActorRef subscriber)
    {
        if (subscriber.IsNobody() || subscriber.Equals(Context.System.DeadLetters)) return;
        if ((record.Subscribers ??= new()).Add(subscriber)) Context.Watch(subscriber);
    }

    /// <summary>Sends <paramref name="e"/> once to each of: <paramref name="also"/>, the channel's subscribers, the node-wide subscribers.</summary>
    private void Publish(ChannelRecord record, IChannelEvent e, IReadOnlyList<IActorRef>? also = null)
    {
        var sent = new HashSet<IActorRef>();
        if (also is not null) foreach (var a in also) if (sent.Add(a)) a.Tell(e);
        if (record.Subscribers is not null) foreach (var s in record.Subscribers) if (sent.Add(s)) s.Tell(e);
        foreach (var s in _nodeSubscribers) if (sent.Add(s)) s.Tell(e);
    }

    // ---- close ---------------------------------------------------------------------------------

    private void OnFinished(ChannelFinished f)
    {
        if (!_channels.TryGet(Sender, out var record)) return;
        Forget(record);
        if (!record.Failed)
        {
            _channels.CountClosed(f.Closed.Reason);
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
                foreach (var w in record.Waiting) w.Tell(new OpenRejected(record.Id, RejectReason.ChannelFailed, "the channel failed while opening"));
            }
            else if (record.Opened is not null)
            {
                _channels.CountClosed(CloseReason.SideFailed);
                var empty = new SideSnapshot(Side.Left, record.Opened.Left, null, 0, 0, 0, 0, new Dictionary<DropReason, long>(), 0, null);
                Publish(record, new ChannelClosed(record.Id, CloseReason.SideFailed, "the channel actor failed",
                    new ChannelSnapshot(record.Id, ChannelState.Closing, record.Request.Options?.LatchMode ?? _settings.LatchMode,
                        _clock.WallNow, empty, empty with { Side = Side.Right, Local = record.Opened.Right })));
            }
            return;
        }
        // a subscriber is gone
        _nodeSubscribers.Remove(t.ActorRef);
        foreach (var r in _channels.Records) r.Subscribers?.Remove(t.ActorRef);
    }

    private void Forget(ChannelRecord record)
    {
        Context.Unwatch(record.Actor);
        _channels.Forget(record);
        TryFinishDrain();
    }

    private void TryFinishDrain()
    {
        if (_drainRequester is null || _channels.Count > 0) return;
        _log.Info("Node drained: all channels closed, all ports released");
        _drainRequester.Tell(new NodeDrained(_channels.PortsFree, _channels.PortsTotal));
        _drainRequester = null;
    }

    // ---- replies -------------------------------------------------------------------------------

    /// <summary>Runs <paramref name="action"/> for an open (or opening, or closing) channel; ChannelNotFound otherwise.</summary>
    private void WithChannel(string? id, Action<ChannelRecord> action)
    {
        if (_channels.TryGet(id, out var r) && !r.Failed) action(r);
        else Sender.Tell(new ChannelNotFound(id ?? ""));
    }

    private void Reject(string id, RejectReason reason, string message)
    {
        _channels.CountRejected(reason);
        _log.Warning("Open {Channel} rejected: {Reason} {Message}", id, reason, message);
        Sender.Tell(new OpenRejected(id, reason, message));
    }

    private void RejectCommand(string command, string message)
    {
        _channels.CountRejected(RejectReason.InvalidRequest);
        Sender.Tell(new CommandRejected(command, RejectReason.InvalidRequest, message));
    }
}

using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ActorRelay.Channels;
using ActorRelay.Latching;
using ActorRelay.Ports;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Sides;

namespace ActorRelay.Node;

/// <summary>
/// The relay node: the well-known entry point (/user/relay). Owns the port pool and one ChannelActor per
/// channel, answers every command (bad ones with a typed rejection), keeps the node's counters and
/// fans channel events out to node-wide subscribers. With the socket transport's epoll engine it also owns
/// the relay loops its channels' sides run on (stopped after every channel, so every socket is closed).
/// States: Running → Draining.
/// </summary>
public sealed class RelayNodeActor : ReceiveActor
{
    public const int MaxChannelIdLength = 128;

    private readonly RelaySettings _settings;
    private readonly RelayClock _clock;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PortPool _pool;
    private readonly RelayLoops? _loops;
    private readonly Dictionary<string, ChannelRecord> _channels = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, ChannelRecord> _byActor = new();
    private readonly HashSet<IActorRef> _subscribers = new();
    private readonly Dictionary<CloseReason, long> _closed = new();
    private readonly Dictionary<RejectReason, long> _rejections = new();
    private long _opened;
    private long _sequence;
    private IActorRef? _drainRequester;

    public RelayNodeActor(RelaySettings settings, RelayClock clock, int capacity)
    {
        _settings = settings;
        _clock = clock;
        Capacity = capacity;
        _pool = new PortPool(settings.PortMin, settings.PortMax);
        RelaySettings.EnsureDefaults(Context.System);
        if (settings.UsesRelayLoops) _loops = new RelayLoops(settings.RelayLoopCount, settings.MaxDatagram, settings.MaxQueueDelay);
        Running();
    }

    protected override void PreStart() =>
        _log.Info("Relay node started: transport {Transport}, {Engine}, ports {Min}-{Max}, capacity {Capacity} channels",
            _settings.Transport == SideTransport.Socket ? "socket" : "akka-io",
            _loops is { } l ? $"{l.Count} relay loop(s) (epoll)" : _settings.Transport == SideTransport.Socket ? "runtime socket engine" : "Akka.IO",
            _settings.PortMin, _settings.PortMax, Capacity);

    /// <summary>Children (channels, sides) are stopped by now: their sockets' closes are queued on the loops, which close them as they stop.</summary>
    protected override void PostStop() => _loops?.Dispose();

    public int Capacity { get; }

    public static Props Props(RelaySettings settings, RelayClock? clock = null, int? capacity = null) =>
        Akka.Actor.Props.Create(() => new RelayNodeActor(settings, clock ?? RelayClock.System, capacity ?? NodeCapacity.Of(settings)));

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        _log.Error(e, "A channel actor failed; stopping it (its sides free their ports)");
        return Directive.Stop;
    });

    // ---- Running -------------------------------------------------------------------------------

    private void Running()
    {
        Receive<OpenChannel>(Open);
        Receive<DrainNode>(_ =>
        {
            _drainRequester = Sender;
            _log.Info("Node draining: closing {Count} channels", _channels.Count);
            foreach (var r in _channels.Values) r.Actor.Tell(new CloseForShutdown());
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
        Receive<CloseChannel>(c => WithChannel(c.ChannelId, "CloseChannel", r => r.Actor.Forward(c)));
        Receive<GetChannel>(g => WithChannel(g.ChannelId, "GetChannel", r => r.Actor.Forward(g)));
        Receive<ResignalSide>(r => WithChannel(r.ChannelId, "ResignalSide", c => c.Actor.Forward(r)));
        Receive<ListChannels>(_ => Sender.Tell(new ChannelList(_channels.Values
            .Where(r => r.Opened is not null)
            .Select(r => new ChannelSummary(r.Id, r.State, r.Opened!.Left, r.Opened.Right, r.Actor))
            .OrderBy(s => s.ChannelId, StringComparer.Ordinal).ToList())));
        Receive<GetNodeStatus>(_ => Sender.Tell(Status()));
        Receive<GetRuntimeStats>(r =>
        {
            if (r.CollectGarbage)
            {
                _log.Info("Collecting garbage on request (GetRuntimeStats): the node pauses briefly");
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            }
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            Sender.Tell(new RuntimeStats(self.TotalProcessorTime.TotalMilliseconds, GC.CollectionCount(0), GC.CollectionCount(1),
                GC.CollectionCount(2), GC.GetTotalPauseDuration().TotalMilliseconds, GC.GetTotalAllocatedBytes(),
                self.WorkingSet64, Environment.ProcessorCount, GC.GetTotalMemory(forceFullCollection: false)));
        });
        Receive<Subscribe>(s =>
        {
            if (s.Subscriber is null || s.Subscriber.IsNobody()) { RejectCommand("Subscribe", "Subscriber must be an actor"); return; }
            if (s.ChannelId is null)
            {
                if (_subscribers.Add(s.Subscriber)) Context.Watch(s.Subscriber);
                Sender.Tell(new Subscribed(null));
            }
            else WithChannel(s.ChannelId, "Subscribe", r => r.Actor.Forward(s));
        });
        Receive<Unsubscribe>(s =>
        {
            if (s.ChannelId is null) { _subscribers.Remove(s.Subscriber); Sender.Tell(new Unsubscribed(null)); }
            else WithChannel(s.ChannelId, "Unsubscribe", r => r.Actor.Forward(s));
        });

        // from channels
        Receive<ChannelReady>(OnReady);
        Receive<ChannelOpenFailed>(OnOpenFailed);
        Receive<ReplacePort>(OnReplacePort);
        Receive<ChannelFinished>(OnFinished);
        Receive<IChannelEvent>(e => { foreach (var s in _subscribers) s.Tell(e); });
        Receive<Terminated>(OnTerminated);

        ReceiveAny(m =>
        {
            if (Sender.IsNobody() || Sender.Equals(Context.System.DeadLetters)) return;
            RejectCommand(m?.GetType().Name ?? "null", $"unknown command {m?.GetType().FullName ?? "null"}");
        });
    }

    // ---- open ----------------------------------------------------------------------------------

    private void Open(OpenChannel o)
    {
        if (Validate(o) is { } invalid) { Reject(o.ChannelId ?? "", invalid.Reason, invalid.Message); return; }

        if (_channels.TryGetValue(o.ChannelId, out var existing))
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

        if (_channels.Count >= Capacity)
        {
            Reject(o.ChannelId, RejectReason.Capacity, $"the node holds its maximum of {Capacity} channels");
            return;
        }

        if (!TryTakePort(o.Left?.Port, out var leftPort, out var leftError))
        {
            Reject(o.ChannelId, leftError.Reason, $"left: {leftError.Message}");
            return;
        }
        if (o.Right?.Port == o.Left?.Port && o.Left?.Port is not null)
        {
            _pool.Release(leftPort);
            Reject(o.ChannelId, RejectReason.InvalidRequest, $"left and right must use different ports, both are {leftPort}");
            return;
        }
        if (!TryTakePort(o.Right?.Port, out var rightPort, out var rightError))
        {
            _pool.Release(leftPort);
            Reject(o.ChannelId, rightError.Reason, $"right: {rightError.Message}");
            return;
        }

        var options = o.Options ?? new ChannelOptions();
        var policy = new LatchPolicy(options.LatchMode ?? _settings.LatchMode, options.LearningWindow ?? _settings.LearningWindow,
            options.Probation ?? _settings.Probation, _settings.MaxSequenceJump);
        var leftBind = BindAddress(o.Left);
        var rightBind = BindAddress(o.Right);
        var spec = new ChannelSpec(
            o.ChannelId,
            new IPEndPoint(leftBind, leftPort),
            new IPEndPoint(rightBind, rightPort),
            o.Left?.Port is null,
            o.Right?.Port is null,
            o.Left?.BindAddress is not null ? leftBind : _settings.AdvertiseAddress,
            o.Right?.BindAddress is not null ? rightBind : _settings.AdvertiseAddress,
            Expected(o.Left) is { } leftExpected ? policy with { Expected = leftExpected } : policy,
            Expected(o.Right) is { } rightExpected ? policy with { Expected = rightExpected } : policy,
            options.IdleTimeout ?? _settings.IdleTimeout,
            options.SetupTimeout ?? _settings.SetupTimeout,
            options.MaxLifetime ?? _settings.MaxLifetime,
            _settings,
            _clock,
            _loops?.Next());
        var opener = o.SubscribeOpener ? Sender : null;
        var actor = Context.ActorOf(ChannelActor.Props(spec, Self, opener), $"channel-{++_sequence}");
        Context.Watch(actor);
        var record = new ChannelRecord(o.ChannelId, o, actor);
        record.Ports.Add(leftPort);
        record.Ports.Add(rightPort);
        record.Waiting.Add(Sender);
        _channels[o.ChannelId] = record;
        _byActor[actor] = record;
    }

    private static (RejectReason Reason, string Message)? Validate(OpenChannel o)
    {
        if (string.IsNullOrWhiteSpace(o.ChannelId)) return (RejectReason.InvalidRequest, "ChannelId must not be empty");
        if (o.ChannelId.Length > MaxChannelIdLength) return (RejectReason.InvalidRequest, $"ChannelId is longer than {MaxChannelIdLength} characters");
        foreach (var (name, side) in new[] { ("left", o.Left), ("right", o.Right) })
        {
            if (side?.Port is { } p && (p < 1 || p > 65535))
                return (RejectReason.PortOutOfRange, $"Invalid port number: {p} ({name}; must be 1..65535)");
            if (side?.BindAddress is { } a && !IPAddress.TryParse(a.Trim('[', ']'), out _))
                return (RejectReason.InvalidRequest, $"{name} bind address is not an IP address: \"{a}\"");
            if (side?.ExpectedSource is { } x && !SourceFilter.TryParse(x, out _, out var why))
                return (RejectReason.InvalidRequest, $"{name} expected source: {why}");
        }
        var opt = o.Options;
        if (opt is not null)
        {
            if (opt.LatchMode is { } m && !Enum.IsDefined(m)) return (RejectReason.InvalidRequest, $"unknown latch mode {m}");
            if (opt.IdleTimeout < TimeSpan.Zero || opt.SetupTimeout < TimeSpan.Zero || opt.MaxLifetime < TimeSpan.Zero ||
                opt.LearningWindow < TimeSpan.Zero)
                return (RejectReason.InvalidRequest, "timeouts must be >= 0");
            if (opt.Probation is < 1 or > 64) return (RejectReason.InvalidRequest, "probation must be in 1..64");
        }
        return null;
    }

    private bool TryTakePort(int? fixedPort, out int port, out (RejectReason Reason, string Message) error)
    {
        error = default;
        if (fixedPort is { } p)
        {
            port = p;
            if (_pool.TryReserve(p)) return true;
            error = (RejectReason.PortInUse, $"port {p} is used by another channel of this node");
            return false;
        }
        if (_pool.TryAllocate(out port)) return true;
        error = (RejectReason.PortsExhausted, $"no free port left in {_settings.PortMin}-{_settings.PortMax}");
        return false;
    }

    private static SourceFilter? Expected(SideRequest? side) =>
        side?.ExpectedSource is { } text && SourceFilter.TryParse(text, out var f, out _) ? f : null;

    private IPAddress BindAddress(SideRequest? side)
    {
        var a = side?.BindAddress is { } text ? IPAddress.Parse(text.Trim('[', ']')) : _settings.BindAddress;
        // Hosts without IPv6: "::" means every IPv4 interface.
        return a.Equals(IPAddress.IPv6Any) && !Socket.OSSupportsIPv6 ? IPAddress.Any : a;
    }

    private void OnReady(ChannelReady r)
    {
        if (!_byActor.TryGetValue(Sender, out var record)) return;
        record.Opened = r.Opened;
        record.State = ChannelState.Open;
        _opened++;
        foreach (var w in record.Waiting) w.Tell(r.Opened);
        record.Waiting.Clear();
    }

    private void OnOpenFailed(ChannelOpenFailed f)
    {
        if (!_byActor.TryGetValue(Sender, out var record)) return;
        Count(_rejections, f.Rejection.Reason);
        foreach (var w in record.Waiting) w.Tell(f.Rejection);
        record.Waiting.Clear();
        record.Failed = true;
        record.Rejection = f.Rejection;
        // the record stays (ports held) until the channel has closed its sides: ChannelFinished
    }

    private void OnReplacePort(ReplacePort r)
    {
        if (!_byActor.TryGetValue(Sender, out var record)) return;
        // The port is busy outside the relay: it goes back to the end of the queue, so it is retried last.
        record.Ports.Remove(r.Port);
        _pool.Release(r.Port);
        if (_pool.TryAllocate(out var port))
        {
            record.Ports.Add(port);
            Sender.Tell(new PortReplaced(r.Side, port));
        }
        else Sender.Tell(new PortReplaced(r.Side, 0));
    }

    // ---- close ---------------------------------------------------------------------------------

    private void OnFinished(ChannelFinished f)
    {
        if (!_byActor.TryGetValue(Sender, out var record)) return;
        Forget(record);
        if (!record.Failed)
        {
            Count(_closed, f.Closed.Reason);
            foreach (var n in f.Notify) n.Tell(f.Closed);
            foreach (var s in _subscribers) s.Tell(f.Closed);
        }
        Sender.Tell(ChannelFinishedAck.Instance);
    }

    private void OnTerminated(Terminated t)
    {
        if (_byActor.TryGetValue(t.ActorRef, out var record))
        {
            // The channel actor stopped without ChannelFinished (it failed): its sides stopped with it
            // and freed their sockets; release the ports and tell whoever waits.
            Forget(record);
            var reason = record.Failed ? (RejectReason?)null : RejectReason.BindFailed;
            if (record.Opened is null && reason is { } rr)
            {
                Count(_rejections, rr);
                foreach (var w in record.Waiting) w.Tell(new OpenRejected(record.Id, rr, "the channel failed while opening"));
            }
            else if (record.Opened is not null)
            {
                Count(_closed, CloseReason.SideFailed);
                var empty = new SideSnapshot(Side.Left, record.Opened.Left, null, 0, 0, 0, 0, new Dictionary<DropReason, long>(), 0, null);
                var closed = new ChannelClosed(record.Id, CloseReason.SideFailed, "the channel actor failed",
                    new ChannelSnapshot(record.Id, ChannelState.Closing, record.Request.Options?.LatchMode ?? _settings.LatchMode,
                        _clock.WallNow, empty, empty with { Side = Side.Right, Local = record.Opened.Right }));
                foreach (var s in _subscribers) s.Tell(closed);
            }
            return;
        }
        _subscribers.Remove(t.ActorRef);
    }

    private void Forget(ChannelRecord record)
    {
        Context.Unwatch(record.Actor);
        _channels.Remove(record.Id);
        _byActor.Remove(record.Actor);
        foreach (var p in record.Ports) _pool.Release(p);
        record.Ports.Clear();
        TryFinishDrain();
    }

    private void TryFinishDrain()
    {
        if (_drainRequester is null || _channels.Count > 0) return;
        _log.Info("Node drained: all channels closed, all ports released");
        _drainRequester.Tell(new NodeDrained(_pool.FreeCount, _pool.Size));
        _drainRequester = null;
    }

    // ---- replies -------------------------------------------------------------------------------

    private void WithChannel(string? id, string command, Action<ChannelRecord> action)
    {
        if (id is not null && _channels.TryGetValue(id, out var r) && !r.Failed) action(r);
        else Sender.Tell(new ChannelNotFound(id ?? ""));
    }

    private void Reject(string id, RejectReason reason, string message)
    {
        Count(_rejections, reason);
        _log.Warning("Open {Channel} rejected: {Reason} {Message}", id, reason, message);
        Sender.Tell(new OpenRejected(id, reason, message));
    }

    private void RejectCommand(string command, string message)
    {
        Count(_rejections, RejectReason.InvalidRequest);
        Sender.Tell(new CommandRejected(command, RejectReason.InvalidRequest, message));
    }

    private static void Count<T>(Dictionary<T, long> d, T key) where T : notnull =>
        d[key] = d.GetValueOrDefault(key) + 1;

    private NodeStatus Status() => new(
        _channels.Count, Capacity, _opened,
        new Dictionary<CloseReason, long>(_closed), new Dictionary<RejectReason, long>(_rejections),
        _pool.FreeCount, _pool.Size, _settings.Transport == SideTransport.Socket ? "socket" : "akka-io");

    private sealed class ChannelRecord(string id, OpenChannel request, IActorRef actor)
    {
        public string Id { get; } = id;
        public OpenChannel Request { get; } = request;
        public IActorRef Actor { get; } = actor;
        public ChannelState State { get; set; } = ChannelState.Opening;
        public ChannelOpened? Opened { get; set; }
        public bool Failed { get; set; }
        public OpenRejected? Rejection { get; set; }
        public List<int> Ports { get; } = new(2);
        public List<IActorRef> Waiting { get; } = new(1);
    }
}

/// <summary>Closes every channel (reason NodeStopping) and refuses new ones; replies <see cref="NodeDrained"/> when all ports are free.</summary>
public sealed record DrainNode
{
    public static readonly DrainNode Instance = new();
}

public sealed record NodeDrained(int PortsFree, int PortsTotal);

/// <summary>Node → channel: close with reason NodeStopping.</summary>
internal sealed record CloseForShutdown;

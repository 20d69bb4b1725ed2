using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using ActorRelay.Quality;
using ActorRelay.Sides;

namespace ActorRelay.Channels;

/// <summary>
/// One relay channel: owns its left and right side actors and supervises them (a side that throws is stopped,
/// which frees its port, and the channel closes with reason SideFailed; a side that loses its socket re-binds the
/// same port itself). Connects the two sides' data paths, reports the channel's events to the node (which fans
/// them out to subscribers), answers queries and enforces the channel's timeouts.
/// States: Binding → Open → Closing → Finishing.
/// <para>A node holds thousands of channels, so each state is a method that matches its messages (an
/// <see cref="ActorBase"/>): a ReceiveActor keeps a table of handler delegates per instance and per state,
/// about 2.5 KB per channel (measured with dotnet-gcdump, docs/benchmarks.md).</para>
/// </summary>
internal sealed class ChannelActor : ActorBase, IWithTimers, IWithUnboundedStash
{
    private readonly ChannelSpec _spec;
    private readonly IActorRef _node;
    private ILoggingAdapter? _log;
    private List<IActorRef>? _closeRequesters;
    private readonly SideSlot _left, _right;
    private readonly long _openedMs;
    private readonly DateTimeOffset _openedAt;
    private bool _bothLatched;
    private bool _summaryScheduled;
    private bool _failedOpen;
    private CloseReason _closeReason;
    private string _closeMessage = "";
    private ChannelState _state = ChannelState.Opening;
    private ChannelClosed? _closed;

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    public ChannelActor(ChannelSpec spec, IActorRef node)
    {
        _spec = spec;
        _node = node;
        _openedAt = spec.Restore?.OpenedAt ?? spec.Clock.WallNow;
        _openedMs = spec.Clock.NowMs - (long)Math.Max(0, (spec.Clock.WallNow - _openedAt).TotalMilliseconds); // restored: from the first open
        _bothLatched = spec.Restore is { Left: not null, Right: not null };
        _left = new SideSlot(Side.Left, spec.LeftBind, spec.LeftPortFromPool, spec.LeftAdvertise);
        _right = new SideSlot(Side.Right, spec.RightBind, spec.RightPortFromPool, spec.RightAdvertise);
    }

    public static Props Props(ChannelSpec spec, IActorRef node) =>
        ActorProps.Of(() => new ChannelActor(spec, node), CompactMailbox.Deployment);

    private ILoggingAdapter Log => _log ??= Context.GetLogger();

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        Log.Error(e, "Channel {Channel}: a side failed; stopping it", _spec.ChannelId);
        return Directive.Stop;
    });

    protected override void PreStart()
    {
        Spawn(_left);
        Spawn(_right);
        Timers.StartSingleTimer(BindTimedOut.Instance, BindTimedOut.Instance, _spec.Settings.BindTimeout);
    }

    private Side SideOf(IActorRef actor) => actor.Equals(_left.Actor) ? Side.Left : Side.Right;
    private SideSlot Slot(Side side) => side == Side.Left ? _left : _right;

    private void Spawn(SideSlot slot)
    {
        var spec = new SideSpec(_spec.ChannelId, slot.Side, slot.Bind, slot.Side == Side.Left ? _spec.LeftPolicy : _spec.RightPolicy,
            _spec.Settings, _spec.Clock, _spec.Loop, slot.Side == Side.Left ? _spec.Restore?.Left : _spec.Restore?.Right, _spec.Formats);
        slot.Actor = ActorProps.Spawn(Context, SideProps.For(spec, Self), $"{slot.Side.ToString().ToLowerInvariant()}-{++slot.Generation}");
        Context.Watch(slot.Actor);
    }

    // ---- Binding -------------------------------------------------------------------------------

    /// <summary>Binding: the sides are binding their ports.</summary>
    protected override bool Receive(object message)
    {
        switch (message)
        {
            case SideBound b:
                OnSideBound(b);
                return true;
            case SideBindFailed f:
                var failed = Slot(f.Side);
                Context.Unwatch(failed.Actor);
                failed.Actor = null;
                if (failed.FromPool && f.Error == SocketError.AddressAlreadyInUse && failed.Generation < _spec.Settings.BindAttempts)
                {
                    Log.Debug("Channel {Channel} side {Side}: pool port {Port} is in use by another program; asking for another",
                        _spec.ChannelId, f.Side, f.Port);
                    _node.Tell(new ReplacePort(f.Side, f.Port));
                    return true;
                }
                FailOpen(RejectReason.BindFailed, f.Message.StartsWith("Failed to bind", StringComparison.Ordinal)
                    ? f.Message : $"Failed to bind on port {f.Port}: {f.Message}");
                return true;
            case PortReplaced r:
                if (r.Port == 0) { FailOpen(RejectReason.PortsExhausted, "no free port left in the pool"); return true; }
                var replaced = Slot(r.Side);
                replaced.Bind = new IPEndPoint(replaced.Bind.Address, r.Port);
                Spawn(replaced);
                return true;
            case BindTimedOut:
                FailOpen(RejectReason.BindFailed, $"sides not bound within {_spec.Settings.BindTimeout}");
                return true;
            case Terminated t when IsSide(t.ActorRef):
                var dead = Slot(SideOf(t.ActorRef));
                dead.Closed = true;
                FailOpen(RejectReason.ChannelFailed, $"{dead.Side} side failed while binding");
                return true;
            case SideFailed f:
                FailOpen(RejectReason.ChannelFailed, $"{f.Side} side failed while binding: {f.Why}");
                return true;
            case SideRecovered r:
                Log.Warning("Channel {Channel} side {Side} recovered its port: {Why}", _spec.ChannelId, r.Side, r.Why);
                return true;
            // Commands for an open channel wait until it is open (binding takes milliseconds); an akka-io side
            // may latch or drop before its sibling is bound: handled once open.
            case CloseChannel or CloseWithReason or GetChannel or ResignalSide or SideLatchChanged or DropsPending:
                Stash.Stash();
                return true;
            default:
                return false;
        }
    }

    private void OnSideBound(SideBound b)
    {
        var slot = Slot(b.Side);
        slot.Path = b.DataPath;
        slot.Local = b.Local;
        _spec.Metrics?.Track(b.DataPath.Counters);
        if (_left.Path is null || _right.Path is null) return;
        // Both data paths connected before either side relays (threading model: src/ActorRelay/Sides/README.md).
        _left.Path.ConnectSibling(_right.Path);
        _right.Path.ConnectSibling(_left.Path);
        _left.Actor!.Tell(StartRelaying.Instance);
        _right.Actor!.Tell(StartRelaying.Instance);
        Timers.Cancel(BindTimedOut.Instance);
        _state = ChannelState.Open;
        var opened = new ChannelOpened(_spec.ChannelId, _left.Advertised(), _right.Advertised(), Self);
        Log.Info("Channel {Channel} open: left {Left}, right {Right}, latch {Latch}",
            _spec.ChannelId, opened.Left, opened.Right, _spec.LeftPolicy.Mode);
        _node.Tell(new ChannelReady(opened));
        ScheduleDeadlineCheck();
        Become(Open);
        Stash.UnstashAll();
    }

    private void FailOpen(RejectReason reason, string message)
    {
        Log.Warning("Channel {Channel} could not open: {Reason} {Message}", _spec.ChannelId, reason, message);
        _node.Tell(new ChannelOpenFailed(new OpenRejected(_spec.ChannelId, reason, message)));
        _failedOpen = true;
        BeginClose(CloseReason.SideFailed, message);
        Stash.UnstashAll();
    }

    // ---- Open ----------------------------------------------------------------------------------

    private bool Open(object message)
    {
        switch (message)
        {
            case SideLatchChanged l:
                OnLatchChanged(l);
                return true;
            case DropsPending:
                if (_summaryScheduled) return true;
                _summaryScheduled = true;
                Timers.StartSingleTimer(PublishDropSummary.Instance, PublishDropSummary.Instance, _spec.Settings.StatsInterval);
                return true;
            case PublishDropSummary:
                _summaryScheduled = false;
                PublishDrops();
                return true;
            case CheckDeadlines:
                CheckDeadlinesNow();
                return true;
            case SideRecovered r:
                Log.Warning("Channel {Channel} side {Side} recovered its port: {Why}", _spec.ChannelId, r.Side, r.Why);
                return true;
            case SideFailed f:
                BeginClose(CloseReason.SideFailed, $"{f.Side} side failed: {f.Why}");
                return true;
            case Terminated t when IsSide(t.ActorRef):
                var slot = Slot(SideOf(t.ActorRef));
                slot.Closed = true; // stopped: its PostStop freed the port, no CloseSide confirmation will come
                BeginClose(CloseReason.SideFailed, $"{slot.Side} side failed");
                return true;
            case CloseChannel:
                (_closeRequesters ??= new(1)).Add(Sender);
                BeginClose(CloseReason.Requested, "closed by request");
                return true;
            case CloseWithReason c:
                BeginClose(c.Reason, c.Message);
                return true;
            case GetChannel:
                Sender.Tell(Snapshot());
                return true;
            case ResignalSide r:
                OnResignal(r);
                return true;
            default:
                return false;
        }
    }

    private void OnLatchChanged(SideLatchChanged l)
    {
        _node.Tell(new ChannelLatched(l.Side, new LatchRestore(l.Current, l.Ssrc, l.CarriesRtp))); // what a restart puts back
        if (!l.Announce) return;
        var source = RelayEndpoint.From(l.Current);
        if (l.Previous is null)
        {
            Log.Info("Channel {Channel} side {Side} latched to {Remote}", _spec.ChannelId, l.Side, source);
            Publish(new SideLatched(_spec.ChannelId, l.Side, source));
        }
        else
        {
            var previous = RelayEndpoint.From(l.Previous);
            Log.Info("Channel {Channel} side {Side} source changed {Previous} -> {Remote}", _spec.ChannelId, l.Side, previous, source);
            Publish(new SourceChanged(_spec.ChannelId, l.Side, previous, source));
        }
        if (!_bothLatched && _left.Path!.Target is not null && _right.Path!.Target is not null)
        {
            _bothLatched = true;
            ScheduleDeadlineCheck();
        }
    }

    private void OnResignal(ResignalSide r)
    {
        SourceFilter? expected = null;
        if (r.ExpectedSource is not null && !SourceFilter.TryParse(r.ExpectedSource, out expected, out var error))
        {
            Sender.Tell(new CommandRejected(nameof(ResignalSide), RejectReason.InvalidRequest, error));
            return;
        }
        Slot(r.Side).Path!.Resignal(_spec.Clock.NowMs, expected);
        Log.Info("Channel {Channel} side {Side} re-signalled; expected source {Expected}", _spec.ChannelId, r.Side,
            (object?)expected ?? "unchanged");
        Sender.Tell(new SideResignalled(_spec.ChannelId, r.Side));
    }

    private bool IsSide(IActorRef a) => a.Equals(_left.Actor) || a.Equals(_right.Actor);

    /// <summary>The node fans events out to the channel's and the node's subscribers, once each.</summary>
    private void Publish(IChannelEvent e) => _node.Tell(new ChannelEvent(e));

    private void PublishDrops()
    {
        // Both sides, without an array per summary: while the node sheds, every side publishes one per stats-interval,
        // and their garbage feeds the collections that stop the relay loops (issue 13).
        PublishDrops(_left);
        PublishDrops(_right);
    }

    private void PublishDrops(SideSlot slot)
    {
        if (slot.Path is null) return;
        slot.Path.Counters.ClearDropsPending();
        var total = slot.Path.Counters.DroppedByReason();
        var since = new Dictionary<DropReason, long>();
        foreach (var (reason, n) in total)
        {
            var before = slot.Reported?.GetValueOrDefault(reason) ?? 0;
            if (n > before) since[reason] = n - before;
        }
        if (since.Count == 0) return;
        slot.Reported = total;
        Log.Debug("Channel {Channel} side {Side} dropped {Drops}", _spec.ChannelId, slot.Side, since);
        Publish(new PacketsDropped(_spec.ChannelId, slot.Side, since, total));
    }

    // ---- timeouts ------------------------------------------------------------------------------

    private long LastActivityMs()
    {
        var last = _openedMs;
        if (_left.Path?.Counters.LastPacketMs is { } l && l > last) last = l;
        if (_right.Path?.Counters.LastPacketMs is { } r && r > last) last = r;
        return last;
    }

    /// <summary>The earliest deadline that applies now, with its reason; null when none applies.</summary>
    private (long At, CloseReason Reason, TimeSpan Limit)? NextDeadline()
    {
        (long, CloseReason, TimeSpan)? next = null;
        void Consider(long at, CloseReason r, TimeSpan limit)
        {
            if (next is null || at < next.Value.Item1) next = (at, r, limit);
        }
        if (_spec.MaxLifetime > TimeSpan.Zero) Consider(_openedMs + (long)_spec.MaxLifetime.TotalMilliseconds, CloseReason.MaxLifetime, _spec.MaxLifetime);
        if (!_bothLatched && _spec.SetupTimeout > TimeSpan.Zero) Consider(_openedMs + (long)_spec.SetupTimeout.TotalMilliseconds, CloseReason.SetupTimeout, _spec.SetupTimeout);
        if (_spec.IdleTimeout > TimeSpan.Zero) Consider(LastActivityMs() + (long)_spec.IdleTimeout.TotalMilliseconds, CloseReason.IdleTimeout, _spec.IdleTimeout);
        return next;
    }

    private void ScheduleDeadlineCheck()
    {
        if (NextDeadline() is not { } d) { Timers.Cancel(CheckDeadlines.Instance); return; }
        var wait = TimeSpan.FromMilliseconds(Math.Max(1, d.At - _spec.Clock.NowMs));
        Timers.StartSingleTimer(CheckDeadlines.Instance, CheckDeadlines.Instance, wait);
    }

    private void CheckDeadlinesNow()
    {
        if (NextDeadline() is { } d && d.At <= _spec.Clock.NowMs)
        {
            Log.Info("Channel {Channel} timed out: {Reason} ({Limit})", _spec.ChannelId, d.Reason, d.Limit);
            Publish(new ChannelTimedOut(_spec.ChannelId, d.Reason, d.Limit));
            BeginClose(d.Reason, $"{d.Reason} after {d.Limit}");
            return;
        }
        ScheduleDeadlineCheck();
    }

    /// <summary>Re-checks the deadlines now (the channel's timer sends it; so may a test that moved the clock).</summary>
    internal sealed record CheckDeadlines
    {
        public static readonly CheckDeadlines Instance = new();
    }

    // ---- Closing -------------------------------------------------------------------------------

    private void BeginClose(CloseReason reason, string message)
    {
        _closeReason = reason;
        _closeMessage = message;
        _state = ChannelState.Closing;
        if (!_failedOpen) _node.Tell(new ChannelClosing(reason));
        Timers.CancelAll();
        PublishDrops();
        foreach (var slot in new[] { _left, _right })
        {
            if (slot.Actor is null) slot.Closed = true;
            else if (!slot.Closed) slot.Actor.Tell(CloseSide.Instance);
        }
        Timers.StartSingleTimer(CloseTimedOut.Instance, CloseTimedOut.Instance, _spec.Settings.CloseTimeout);
        Become(Closing);
        TryFinish();
    }

    private bool Closing(object message)
    {
        switch (message)
        {
            case SideClosed c:
                Slot(c.Side).Closed = true;
                TryFinish();
                return true;
            case Terminated t when IsSide(t.ActorRef):
                Slot(SideOf(t.ActorRef)).Closed = true;
                TryFinish();
                return true;
            case CloseTimedOut:
                Log.Warning("Channel {Channel}: sides did not confirm close in {Timeout}; stopping them", _spec.ChannelId, _spec.Settings.CloseTimeout);
                _left.Closed = _right.Closed = true;
                TryFinish();
                return true;
            case CloseChannel:
                if (_failedOpen) Sender.Tell(new ChannelNotFound(_spec.ChannelId));
                else (_closeRequesters ??= new(1)).Add(Sender);
                return true;
            case GetChannel:
                Sender.Tell(Snapshot());
                return true;
            case ResignalSide r:
                Sender.Tell(new ChannelNotFound(r.ChannelId));
                return true;
            default:
                return Moot(message);
        }
    }

    private void TryFinish()
    {
        if (!_left.Closed || !_right.Closed) return;
        var final = Snapshot();
        RetireCounters();
        var closed = new ChannelClosed(_spec.ChannelId, _closeReason, _closeMessage, final);
        Log.Log(Akka.Event.LogLevel.InfoLevel, null, "Channel {Channel} closed: {Reason} after {Duration}; left {LeftIn} in / {LeftFwd} forwarded, loss {LeftLoss:P1}, " +
                 "jitter {LeftJitterMs:F1} ms, MOS {LeftMos}; right {RightIn} in / {RightFwd} forwarded, loss {RightLoss:P1}, jitter {RightJitterMs:F1} ms, MOS {RightMos}",
            [_spec.ChannelId, _closeReason, _spec.Clock.WallNow - _openedAt,
            final.Left.PacketsReceived, final.Left.PacketsForwarded, final.Left.Quality?.LossRatio ?? 0, (final.Left.Quality?.JitterSeconds ?? 0) * 1000,
            final.Left.Quality?.Mos, final.Right.PacketsReceived, final.Right.PacketsForwarded, final.Right.Quality?.LossRatio ?? 0,
            (final.Right.Quality?.JitterSeconds ?? 0) * 1000, final.Right.Quality?.Mos]);
        _node.Tell(new ChannelFinished(closed, _closeRequesters?.ToArray() ?? []));
        // Stop only once the node has published ChannelClosed, so watchers see it before Terminated.
        Timers.StartSingleTimer(CloseTimedOut.Instance, CloseTimedOut.Instance, _spec.Settings.CloseTimeout);
        _closed = closed;
        Become(Finishing);
    }

    /// <summary>Finishing: the node publishes ChannelClosed and releases the ports, then acknowledges.</summary>
    private bool Finishing(object message)
    {
        switch (message)
        {
            case ChannelFinishedAck or CloseTimedOut:
                Context.Stop(Self);
                return true;
            case GetChannel:
                Sender.Tell(_closed!.Final);
                return true;
            case CloseChannel:
                if (_failedOpen) Sender.Tell(new ChannelNotFound(_spec.ChannelId));
                else Sender.Tell(_closed!);
                return true;
            case ResignalSide r:
                Sender.Tell(new ChannelNotFound(r.ChannelId));
                return true;
            case SideClosed or Terminated:
                return true; // the sides are gone already (or were given up on)
            default:
                return Moot(message);
        }
    }

    /// <summary>
    /// What a closing channel no longer acts on, named here so nothing else is dropped silently: the sides' reports,
    /// timers of the open state, a port the node replaced, a second close.
    /// </summary>
    private static bool Moot(object message) => message is SideBound or SideBindFailed or SideLatchChanged or DropsPending
        or PublishDropSummary or CheckDeadlines or BindTimedOut or SideRecovered or SideFailed or PortReplaced or CloseWithReason;

    /// <summary>The sides' sockets are closed: what they counted stays in the node's totals.</summary>
    private void RetireCounters()
    {
        if (_spec.Metrics is not { } metrics) return;
        if (_left.Path is { } l) metrics.Retire(l.Counters);
        if (_right.Path is { } r) metrics.Retire(r.Counters);
    }

    protected override void PostStop() => RetireCounters(); // stopped abruptly (retiring twice is harmless)

    // ---- snapshot ------------------------------------------------------------------------------

    private ChannelSnapshot Snapshot() => new(_spec.ChannelId, _state, _spec.LeftPolicy.Mode, _openedAt,
        SideSnapshotOf(_left), SideSnapshotOf(_right));

    private SideSnapshot SideSnapshotOf(SideSlot slot)
    {
        var local = slot.Advertised();
        if (slot.Path is not { } p)
            return new SideSnapshot(slot.Side, local, null, 0, 0, 0, 0, new Dictionary<DropReason, long>(), 0, null);
        var c = p.Counters;
        var last = c.LastPacketMs is { } ms ? _spec.Clock.ToWall(ms) : (DateTimeOffset?)null;
        return new SideSnapshot(slot.Side, local, p.Target is { } t ? RelayEndpoint.From(t.EndPoint) : null,
            c.PacketsReceived, c.BytesReceived, c.PacketsForwarded, c.BytesForwarded, c.DroppedByReason(), c.LatchChanges, last,
            p.Quality is { } q ? StreamQualityOf(q.Snapshot()) : null);
    }

    /// <summary>The protocol's view of a side's quality figures; what the client reported is its latest RTCP report.</summary>
    internal static StreamQuality? StreamQualityOf(RtpQuality q)
    {
        if (!q.HasStream) return null;
        var report = q.Reports.Count == 0 ? null : q.Reports.MaxBy(r => r.ArrivalMicros);
        return new StreamQuality(q.Ssrc, q.PayloadType, q.PacketsExpected, q.PacketsLost, q.LossRatio, q.Duplicates, q.Reordered,
            q.JitterSeconds, q.ClockRate, q.ClockRateAssumed, Math.Round(q.Mos, 2), q.SsrcChanges, report?.FractionLost, report?.JitterSeconds);
    }

    private sealed class SideSlot(Side side, IPEndPoint bind, bool fromPool, IPAddress? advertise)
    {
        public Side Side { get; } = side;
        public IPEndPoint Bind { get; set; } = bind;
        public bool FromPool { get; } = fromPool;
        public IActorRef? Actor { get; set; }
        public int Generation { get; set; }
        public ISideDataPath? Path { get; set; }
        public IPEndPoint? Local { get; set; }
        public bool Closed { get; set; }
        /// <summary>Drops already published, by reason; null until the first summary.</summary>
        public Dictionary<DropReason, long>? Reported { get; set; }

        public RelayEndpoint Advertised()
        {
            var port = Local?.Port ?? Bind.Port;
            var address = advertise ?? Local?.Address ?? Bind.Address;
            return RelayEndpoint.From(new IPEndPoint(address, port));
        }
    }

    private sealed record BindTimedOut { public static readonly BindTimedOut Instance = new(); }
    private sealed record CloseTimedOut { public static readonly CloseTimedOut Instance = new(); }
    private sealed record PublishDropSummary { public static readonly PublishDropSummary Instance = new(); }
}

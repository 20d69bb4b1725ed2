using ActorRelay.Counters;
using ActorRelay.Protocol;
using Prometheus;

namespace ActorRelay.Metrics;

/// <summary>
/// What a node tells Prometheus (prometheus-net, its own registry; the names are the contract dashboards are built on).
/// Reading never touches the data path: per-packet figures are the counters each side keeps anyway
/// (<see cref="SideCounters"/>), summed when Prometheus scrapes (sides of open channels, plus what closed channels
/// counted); the relay loops add one histogram observation per wake-up; everything else is counted by the node actor
/// as it happens. No label takes a value per channel or per address.
/// <para>Threads: the node actor, channel actors and relay loops write; a scrape reads. Tracking and retiring a side's
/// counters and summing them take one lock (control plane only), so a scrape never counts a closed side twice nor
/// loses it, and the totals only grow.</para>
/// </summary>
public sealed class RelayMetrics
{
    private readonly object _gate = new();
    private readonly HashSet<SideCounters> _live = new();
    private readonly long[] _closedDrops = new long[Enum.GetValues<DropReason>().Length];
    private long _closedReceived, _closedRelayed, _closedBytesRelayed;

    private readonly Gauge _channelsOpen, _portsFree, _ready;
    private readonly Counter _opened, _closed, _rejected, _received, _relayed, _bytesRelayed, _dropped, _latchEvents;
    private readonly Histogram _mos, _jitter, _loss;

    /// <summary>Drop reasons that are a source refused by a latch (a latch event of kind "refused").</summary>
    private static readonly DropReason[] Refusals =
        [DropReason.ForeignSource, DropReason.UnexpectedSource, DropReason.NotRtp, DropReason.Probation, DropReason.Empty];

    public RelayMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry); // the process's CPU, memory, GC and threads
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        _channelsOpen = f.CreateGauge("actorrelay_channels_open", "Channels open now (opening, open or closing).");
        _portsFree = f.CreateGauge("actorrelay_ports_free", "Ports of the pool not held by a channel.");
        _ready = f.CreateGauge("actorrelay_ready", "1 when the node serves new channels (what /ready answers), else 0.");
        _opened = f.CreateCounter("actorrelay_channels_opened_total", "Channels opened.");
        _closed = f.CreateCounter("actorrelay_channels_closed_total", "Channels closed, by reason.", "reason");
        _rejected = f.CreateCounter("actorrelay_open_rejected_total", "Open requests rejected, by reason.", "reason");
        _received = f.CreateCounter("actorrelay_packets_received_total", "Datagrams received on every side, whatever became of them.");
        _relayed = f.CreateCounter("actorrelay_packets_relayed_total", "Datagrams relayed to the other side's client.");
        _bytesRelayed = f.CreateCounter("actorrelay_bytes_relayed_total", "Bytes (UDP payload) relayed.");
        _dropped = f.CreateCounter("actorrelay_packets_dropped_total", "Datagrams dropped, by reason.", "reason");
        _latchEvents = f.CreateCounter("actorrelay_latch_events_total",
            "Latch events: latched (a side's first source), moved (to a new source), refused (a datagram from a source the latch did not take).", "kind");
        LoopLag = f.CreateHistogram("actorrelay_relay_loop_lag_seconds",
            "How late a relay loop serves the ready sockets of one wake-up: from epoll_wait's return to the last socket served.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.00001, 2, 16) }); // 10 µs .. 0.33 s
        QueueDelay = f.CreateHistogram("actorrelay_relay_queue_delay_seconds",
            $"How long a datagram waited in its socket's queue before a relay loop read it (the kernel's receive time to the read), " +
            $"for one datagram in {RelayLoops.RelayLoop.QueueDelaySampling}.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.00001, 2, 16) }); // 10 µs .. 0.33 s
        _mos = f.CreateHistogram("actorrelay_call_mos", "MOS estimate of each side's RTP stream, recorded when a call ends.",
            new HistogramConfiguration { Buckets = [1, 1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4, 4.5] });
        _jitter = f.CreateHistogram("actorrelay_call_jitter_seconds", "Interarrival jitter of each side's RTP stream, recorded when a call ends.",
            new HistogramConfiguration { Buckets = [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2] });
        _loss = f.CreateHistogram("actorrelay_call_loss_ratio", "Packet loss ratio of each side's RTP stream, recorded when a call ends.",
            new HistogramConfiguration { Buckets = [0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1] });
        // every label value is there from the start (0), so a rate over it exists before the first event of its kind
        foreach (var r in Enum.GetValues<DropReason>()) _dropped.WithLabels(Label(r)).IncTo(0);
        foreach (var r in Enum.GetValues<CloseReason>()) _closed.WithLabels(Label(r)).IncTo(0);
        foreach (var r in Enum.GetValues<RejectReason>()) _rejected.WithLabels(Label(r)).IncTo(0);
        foreach (var k in new[] { "latched", "moved", "refused" }) _latchEvents.WithLabels(k).IncTo(0);
        Registry.AddBeforeCollectCallback(SumSides);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Observed by the relay loops, once per wake-up.</summary>
    public Histogram LoopLag { get; }

    /// <summary>Observed by the relay loops, for one datagram in <see cref="RelayLoops.RelayLoop.QueueDelaySampling"/>.</summary>
    public Histogram QueueDelay { get; }

    /// <summary>Why the node does not serve new channels now, or null when it does (what /ready answers).</summary>
    public string? NotReadyBecause { get; private set; } = "starting";

    // ---- the node actor -------------------------------------------------------------------------

    public void NodeFigures(int channelsOpen, int portsFree, string? notReadyBecause)
    {
        _channelsOpen.Set(channelsOpen);
        _portsFree.Set(portsFree);
        NotReadyBecause = notReadyBecause;
        _ready.Set(notReadyBecause is null ? 1 : 0);
    }

    public void ChannelOpened() => _opened.Inc();
    public void ChannelClosed(CloseReason reason) => _closed.WithLabels(Label(reason)).Inc();
    public void OpenRejected(RejectReason reason) => _rejected.WithLabels(Label(reason)).Inc();
    public void Latched(bool moved) => _latchEvents.WithLabels(moved ? "moved" : "latched").Inc();

    /// <summary>A call ended: its sides' quality goes into the call histograms (a side without an RTP stream adds nothing).</summary>
    public void CallEnded(ChannelSnapshot final)
    {
        foreach (var q in new[] { final.Left.Quality, final.Right.Quality })
        {
            if (q is null || q.PacketsExpected == 0) continue;
            _mos.Observe(q.Mos);
            _jitter.Observe(q.JitterSeconds);
            _loss.Observe(q.LossRatio);
        }
    }

    // ---- channels: the sides' own counters -------------------------------------------------------

    /// <summary>A side started counting (its channel bound it).</summary>
    public void Track(SideCounters counters)
    {
        lock (_gate) _live.Add(counters);
    }

    /// <summary>A side stopped counting (its socket is closed): what it counted stays in the totals.</summary>
    public void Retire(SideCounters counters)
    {
        lock (_gate)
        {
            if (!_live.Remove(counters)) return;
            _closedReceived += counters.PacketsReceived;
            _closedRelayed += counters.PacketsForwarded;
            _closedBytesRelayed += counters.BytesForwarded;
            foreach (var r in Enum.GetValues<DropReason>()) _closedDrops[(int)r] += counters.Dropped(r);
        }
    }

    /// <summary>Datagrams relayed since the node started: the closed sides' and the open ones' (a control-plane read, one lock).</summary>
    public long PacketsRelayed()
    {
        lock (_gate)
        {
            var relayed = _closedRelayed;
            foreach (var c in _live) relayed += c.PacketsForwarded;
            return relayed;
        }
    }

    private void SumSides()
    {
        long received, relayed, bytes;
        var drops = new long[_closedDrops.Length];
        lock (_gate)
        {
            (received, relayed, bytes) = (_closedReceived, _closedRelayed, _closedBytesRelayed);
            _closedDrops.CopyTo(drops, 0);
            foreach (var c in _live)
            {
                received += c.PacketsReceived;
                relayed += c.PacketsForwarded;
                bytes += c.BytesForwarded;
                for (var i = 0; i < drops.Length; i++) drops[i] += c.Dropped((DropReason)i);
            }
        }
        _received.IncTo(received);
        _relayed.IncTo(relayed);
        _bytesRelayed.IncTo(bytes);
        foreach (var r in Enum.GetValues<DropReason>()) _dropped.WithLabels(Label(r)).IncTo(drops[(int)r]);
        _latchEvents.WithLabels("refused").IncTo(Refusals.Sum(r => drops[(int)r]));
    }

    /// <summary>A label value in Prometheus's style: snake_case ("PeerNotLatched" → "peer_not_latched").</summary>
    public static string Label<T>(T value) where T : struct, Enum
    {
        var name = value.ToString();
        var sb = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(name[i]));
        }
        return sb.ToString();
    }
}

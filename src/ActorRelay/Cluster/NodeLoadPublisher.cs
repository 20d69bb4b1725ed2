using Akka.Actor;
using Akka.DistributedData;
using Akka.Event;
using ActorRelay.Protocol;
using ActorRelay.Settings;

namespace ActorRelay.Cluster;

/// <summary>
/// Publishes the node's load about once a second (relay.cluster.load-interval) into the cluster's replicated load map
/// (Akka.DistributedData, <see cref="LoadsKey"/>: an LWW map keyed by node address, written locally and spread by
/// gossip), with the relayed packets/s and the busiest relay loop's CPU since the last one (<see cref="NodeLoadRates"/>).
/// Reads the node's own status; never touches the data path.
/// </summary>
public sealed class NodeLoadPublisher : ReceiveActor, IWithTimers
{
    /// <summary>The replicated map of every relay node's last load.</summary>
    public static readonly LWWDictionaryKey<string, NodeLoad> LoadsKey = new("relay-node-loads");

    private readonly IActorRef _node;
    private readonly RelaySettings _settings;
    private readonly RelayClock _clock;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly NodeLoadRates _rates = new();
    private bool _asking;

    public ITimerScheduler Timers { get; set; } = null!;

    public NodeLoadPublisher(IActorRef node, RelaySettings settings, RelayClock clock)
    {
        _node = node;
        _settings = settings;
        _clock = clock;
        Receive<Tick>(_ =>
        {
            if (_asking) return; // the node has not answered the last one: no pile-up
            _asking = true;
            _node.Ask<NodeStatus>(GetNodeStatus.Instance, _settings.ClusterNodeTimeout)
                .PipeTo(Self, failure: e => new Status.Failure(e));
        });
        Receive<NodeStatus>(s =>
        {
            _asking = false;
            var (packets, loopCpu) = _rates.Next(_clock.NowMs, s.PacketsRelayed, s.RelayLoopCpuMilliseconds);
            var load = new NodeLoad(_cluster.SelfAddress.ToString(), s.ChannelsOpen, s.Capacity, s.PortsFree, s.Draining, _clock.WallNow,
                Math.Round(packets, 1), Math.Round(loopCpu, 1));
            _replicator.Tell(Dsl.Update(LoadsKey, LWWDictionary<string, NodeLoad>.Empty, WriteLocal.Instance,
                map => map.SetItem(_cluster, load.Node, load)));
        });
        Receive<Status.Failure>(f =>
        {
            _asking = false;
            _log.Warning("Node load not published: the node did not answer its status: {Error}", f.Cause.Message);
        });
        Receive<UpdateSuccess>(_ => { });
        Receive<IUpdateFailure>(f => _log.Warning("Node load not published: {Failure}", f));
    }

    public static Props Props(IActorRef node, RelaySettings settings, RelayClock clock) =>
        Akka.Actor.Props.Create(() => new NodeLoadPublisher(node, settings, clock));

    /// <summary>Publishes at once, then every load-interval.</summary>
    protected override void PreStart() => Timers.StartPeriodicTimer("publish", Tick.Instance, TimeSpan.Zero, _settings.ClusterLoadInterval);

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }
}

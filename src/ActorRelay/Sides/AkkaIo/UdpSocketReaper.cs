using Akka.Actor;
using Akka.IO;

namespace ActorRelay.Sides.AkkaIo;

/// <summary>
/// Frees the sockets of an Akka.IO listener whose handler (an akka-io side) stopped without an orderly
/// Unbind — the case where Akka.IO leaks the port (its listener closes only connected sockets). The reaper asks the
/// listener to Unbind and closes the side's sockets itself once the listener has terminated, never while
/// it is alive (closing under a live listener makes it restart and bind the port again). A system actor,
/// so it outlives the sides and channels it cleans up after.
/// </summary>
internal sealed class UdpSocketReaper : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private readonly Dictionary<IActorRef, TrackingSocketCreator> _pending = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public UdpSocketReaper()
    {
        Receive<Reap>(r =>
        {
            _pending[r.Listener] = r.Sockets;
            Context.Watch(r.Listener);
            r.Listener.Tell(Udp.Unbind.Instance);
            Timers.StartSingleTimer(r.Listener, new GiveUp(r.Listener), Patience);
        });
        Receive<Terminated>(t => Dispose(t.ActorRef));
        Receive<GiveUp>(g => Dispose(g.Listener)); // a listener stuck for seconds: close anyway
        Receive<Udp.Unbound>(_ => { }); // the listener's answer; its Terminated follows and does the work
    }

    private void Dispose(IActorRef listener)
    {
        if (!_pending.Remove(listener, out var sockets)) return;
        Timers.Cancel(listener);
        Context.Unwatch(listener);
        sockets.Retire();
    }

    protected override void PostStop()
    {
        foreach (var s in _pending.Values) s.Retire(); // the system is going down: nothing will restart
        _pending.Clear();
    }

    /// <summary>Hands over the sockets of a side that stopped abruptly, with the listener that may still use them.</summary>
    public sealed record Reap(IActorRef Listener, TrackingSocketCreator Sockets) : ILiveHandoff;

    private sealed record GiveUp(IActorRef Listener);

    /// <summary>One reaper per actor system.</summary>
    public static IActorRef For(ActorSystem system) => Extension(system).Reaper;

    /// <summary>A socket creator for one akka-io side whose sockets are closed when the system terminates at the latest.</summary>
    public static TrackingSocketCreator NewSocketCreator(ActorSystem system)
    {
        var ext = Extension(system);
        var creator = new TrackingSocketCreator(ext.Live);
        ext.Live.TryAdd(creator, 0);
        return creator;
    }

    private static ReaperExtension Extension(ActorSystem system) => system.WithExtension<ReaperExtension, ReaperExtensionId>();

    private sealed class ReaperExtension : IExtension
    {
        public ReaperExtension(ExtendedActorSystem system)
        {
            Reaper = system.SystemActorOf(Props.Create<UdpSocketReaper>(), "actor-relay-udp-reaper");
            // Last safety net: once the system has terminated no listener can restart and re-bind, so every
            // socket an akka-io side created and nobody closed (a listener stopped by the shutdown) is closed.
            system.WhenTerminated.ContinueWith(_ =>
            {
                foreach (var creator in Live.Keys) creator.DisposeAll();
            }, TaskScheduler.Default);
        }

        public IActorRef Reaper { get; }
        public System.Collections.Concurrent.ConcurrentDictionary<TrackingSocketCreator, byte> Live { get; } = new();
    }

    private sealed class ReaperExtensionId : ExtensionIdProvider<ReaperExtension>
    {
        public override ReaperExtension CreateExtension(ExtendedActorSystem system) => new(system);
    }
}

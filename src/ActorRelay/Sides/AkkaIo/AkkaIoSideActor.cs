using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using ActorRelay.Protocol;

namespace ActorRelay.Sides.AkkaIo;

/// <summary>
/// A side on the <c>akka-io</c> transport: Akka.IO <see cref="Udp.Bind"/>, every datagram an actor message.
/// Handles the traps of Akka.IO's UDP listener:
/// <list type="bullet">
/// <item>Bind failure: <see cref="Udp.CommandFailed"/> is the result and carries no cause, so the side asks the OS
///   why (<see cref="SideSockets.Diagnose"/>); the <c>Bound(null)</c> that follows is ignored.</item>
/// <item>A listener stopped without Unbind keeps its port bound (it closes only connected sockets): the side always
///   Unbinds and waits for Unbound before it stops, and its handlers never throw (a failure turns into that same
///   orderly close), so the listener's death pact on the side never fires while it holds a socket.</item>
/// <item>A failed send restarts the listener, which leaks its socket: targets are validated before each send; if
///   the listener still dies, the side disposes every socket it created (it creates them itself, through
///   <see cref="TrackingSocketCreator"/>) and binds the same port again.</item>
/// <item>Truncation: Linux silently truncates a datagram longer than Akka.IO's buffer; the buffer is
///   relay.max-datagram + 1, so a full buffer means oversize (dropped, counted).</item>
/// </list>
/// States: Binding → Bound (waiting for the sibling) → Relaying → Closing.
/// </summary>
internal sealed class AkkaIoSideActor : ReceiveActor, IWithTimers
{
    private readonly SideSpec _spec;
    private readonly IActorRef _channel;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TrackingSocketCreator _sockets;
    private readonly AkkaIoSide _path;
    private readonly IActorRef _udpManager;
    private IActorRef? _listener;
    private IPEndPoint? _local;
    private IActorRef? _closeRequester;
    private int _recoveries;
    private bool _recovering;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="udpManager">The Akka.IO UDP manager the side binds through (the system's, unless given).</param>
    public AkkaIoSideActor(SideSpec spec, IActorRef channel, IActorRef? udpManager = null)
    {
        _spec = spec;
        _channel = channel;
        _udpManager = udpManager ?? Udp.Instance.Apply(Context.System).Manager;
        _sockets = UdpSocketReaper.NewSocketCreator(Context.System);
        _path = new AkkaIoSide(spec, channel, Self);
        Binding();
    }

    public static Props Props(SideSpec spec, IActorRef channel, IActorRef? udpManager = null) =>
        ActorProps.Of(() => new AkkaIoSideActor(spec, channel, udpManager), Channels.CompactMailbox.Deployment);

    protected override void PreStart() => SendBind(SideSockets.Usable(_spec.Bind));

    private void SendBind(IPEndPoint at)
    {
        var options = new List<Inet.SocketOption> { _sockets };
        if (_spec.Settings.SocketReceiveBuffer > 0) options.Add(new Inet.SO.ReceiveBufferSize(_spec.Settings.SocketReceiveBuffer));
        _udpManager.Tell(new Udp.Bind(Self, at, options));
    }

    // ---- states -----------------------------------------------------------------------------

    private void Binding()
    {
        Receive<Udp.Bound>(b => b.LocalAddress is null, _ => { }); // follows CommandFailed(Bind): the failure was handled
        Receive<Udp.Bound>(b =>
        {
            _listener = Sender;
            Context.Watch(_listener);
            _local = (IPEndPoint)b.LocalAddress;
            _path.Outlet = new Outlet(_listener, _local.AddressFamily);
            if (_recovering)
            {
                _recovering = false;
                _channel.Tell(new SideRecovered(_spec.Side, "Akka.IO listener died; port re-bound"));
                Become(Relaying);
                return;
            }
            _channel.Tell(new SideBound(_spec.Side, _local, _path));
            Become(Bound);
        });
        Receive<Udp.CommandFailed>(_ =>
        {
            _sockets.DisposeAll();
            if (_recovering) throw new SideFailedException($"could not re-bind port {_spec.Bind.Port} after the Akka.IO listener died");
            var at = SideSockets.Usable(_spec.Bind);
            var error = SideSockets.Diagnose(at);
            var why = error == SocketError.Success ? "Akka.IO refused the bind, and the port binds now" : new SocketException((int)error).Message;
            _channel.Tell(new SideBindFailed(_spec.Side, _spec.Bind.Port,
                error == SocketError.Success ? SocketError.SocketError : error, $"Failed to bind on port {_spec.Bind.Port} ({at}): {why}"));
            Context.Stop(Self);
        });
        Receive<CloseSide>(_ => { _closeRequester = Sender; BeginClose(); });
    }

    private void Bound()
    {
        Receive<StartRelaying>(_ => Become(Relaying));
        Receive<Udp.Received>(Admit); // latch before the sibling relays; relaying starts once the channel connected both
        ListenerSupervision();
        Receive<CloseSide>(_ => { _closeRequester = Sender; BeginClose(); });
    }

    private void Relaying()
    {
        Receive<Udp.Received>(Admit);
        ListenerSupervision();
        Receive<CloseSide>(_ => { _closeRequester = Sender; BeginClose(); });
    }

    private void Closing()
    {
        _path.Outlet = null;
        Receive<Udp.Unbound>(_ => FinishClose());
        Receive<Terminated>(t => t.ActorRef.Equals(_listener), _ => FinishClose());
        Receive<UnbindTimedOut>(_ =>
        {
            _log.Warning("Channel {Channel} side {Side}: no Unbound within {Timeout}; closing the socket directly",
                _spec.ChannelId, _spec.Side, _spec.Settings.UnbindTimeout);
            FinishClose();
        });
        // closing already: datagrams still in flight, a late start or bind result, a second close change nothing
        Receive<Udp.Received>(_ => { });
        Receive<StartRelaying>(_ => { });
        Receive<Udp.Bound>(_ => { });
        Receive<Udp.CommandFailed>(_ => { });
        Receive<CloseSide>(_ => { });
    }

    private void ListenerSupervision()
    {
        Receive<Udp.CommandFailed>(_ => { }); // the listener restarted and could not re-bind; its Terminated follows
        Receive<Udp.Bound>(b => b.LocalAddress is null, _ => { });
        Receive<Udp.Bound>(b =>
        {
            _local = (IPEndPoint)b.LocalAddress; // listener restarted on the same port
            _path.Outlet = new Outlet(Sender, _local.AddressFamily);
        });
        Receive<Terminated>(t => t.ActorRef.Equals(_listener), _ => Recover());
    }

    // ---- data path ---------------------------------------------------------------------------

    /// <summary>
    /// Decides a datagram and hands an admitted one straight to the sibling's listener (not through the sibling
    /// actor: one mailbox hop less per packet), so it leaves from the sibling's own socket. The sibling actor is
    /// the sender, so a failed send reaches it, as if it had sent it.
    /// </summary>
    private void Admit(Udp.Received r)
    {
        var target = _path.Admit(r.Data.ToReadOnlySpan(), r.Sender as IPEndPoint);
        if (target is null) return;
        var sibling = _path.Sibling!;
        if (sibling.Outlet is not { } outlet || SendTarget(outlet.Family, target.EndPoint) is not { } to)
        {
            _path.Drop(DropReason.SendFailed);
            return;
        }
        _path.Forwarded(r.Data.Count);
        outlet.Listener.Tell(Udp.Send.Create(r.Data, to), sibling.SideActor);
    }

    /// <summary>
    /// The target as a socket of <paramref name="family"/> can send to it, or null. Validated before Udp.Send: one
    /// failed SendTo restarts the listener and costs the port.
    /// </summary>
    internal static IPEndPoint? SendTarget(AddressFamily family, IPEndPoint target)
    {
        if (target.Port is < 1 or > 65535) return null;
        if (family == AddressFamily.InterNetworkV6) return target; // dual-stack: IPv4 targets are mapped
        if (family != AddressFamily.InterNetwork) return null;
        if (target.AddressFamily == AddressFamily.InterNetwork) return target;
        return target.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(target.Address.MapToIPv4(), target.Port) : null;
    }

    // ---- failure and close -------------------------------------------------------------------

    /// <summary>Handlers never throw: a failure closes the side in order (Unbind first) and the channel reports it.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e) when (_listener is not null && _closeRequester is null)
        {
            _log.Error(e, "Channel {Channel} side {Side} failed; unbinding port {Port}", _spec.ChannelId, _spec.Side, _local?.Port);
            _channel.Tell(new SideFailed(_spec.Side, e.Message));
            _closeRequester = _channel;
            BeginClose();
            return true;
        }
    }

    private void Recover()
    {
        // The listener died without Unbind (a failed send restarted it): its socket is still open.
        _listener = null;
        _path.Outlet = null;
        _sockets.DisposeAll();
        if (++_recoveries > _spec.Settings.RecoveryAttempts)
            throw new SideFailedException($"Akka.IO listener died {_recoveries} times");
        _log.Warning("Channel {Channel} side {Side}: Akka.IO listener died; re-binding port {Port}",
            _spec.ChannelId, _spec.Side, _local?.Port);
        _recovering = true;
        SendBind(_local ?? SideSockets.Usable(_spec.Bind));
        Become(Binding);
    }

    private void BeginClose()
    {
        Become(Closing);
        if (_listener is null) { FinishClose(); return; }
        _listener.Tell(Udp.Unbind.Instance, Self);
        Timers.StartSingleTimer(UnbindTimedOut.Instance, UnbindTimedOut.Instance, _spec.Settings.UnbindTimeout);
    }

    private void FinishClose()
    {
        _sockets.Retire(); // after Unbound this closes nothing; after a timeout it frees the port
        _closeRequester?.Tell(new SideClosed(_spec.Side));
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        // Stopped without the orderly close (the channel stopped us, or the system is terminating): the
        // listener still holds a socket and will not close it (death pact). The reaper unbinds it and
        // closes our sockets once the listener is gone.
        if (_listener is not null && _closeRequester is null)
            UdpSocketReaper.For(Context.System).Tell(new UdpSocketReaper.Reap(_listener, _sockets));
        else _sockets.Retire();
    }

    private sealed record UnbindTimedOut
    {
        public static readonly UnbindTimedOut Instance = new();
    }
}

/// <summary>
/// The akka-io data path: the shared admission, this side's actor, and the listener its sibling sends through.
/// <para>Threads: the side actor alone admits and counts (each datagram is a message to it); it writes
/// <see cref="Outlet"/>, which the sibling actor reads (volatile) when it relays a datagram out of this side's
/// socket.</para>
/// </summary>
internal sealed class AkkaIoSide(SideSpec spec, IActorRef channel, IActorRef self) : SideDataPath<AkkaIoSide>(spec, channel, self)
{
    private volatile Outlet? _outlet;

    /// <summary>This side's listener and socket family while it is bound; null while binding, recovering or closing.</summary>
    public Outlet? Outlet { get => _outlet; set => _outlet = value; }
}

/// <summary>The listener that owns a side's socket, and the socket's address family.</summary>
internal sealed record Outlet(IActorRef Listener, AddressFamily Family);

/// <summary>
/// Creates the Akka.IO listener's socket for the side (through <see cref="SideSockets"/>, dual-stack for IPv6) and
/// remembers it, so the side can close a socket the listener leaked. Once retired, a socket it is still asked for
/// is closed at once: the listener's bind then fails instead of holding a port nobody will close.
/// </summary>
internal sealed class TrackingSocketCreator(System.Collections.Concurrent.ConcurrentDictionary<TrackingSocketCreator, byte>? live = null)
    : Inet.DatagramChannelCreator
{
    private readonly List<Socket> _created = new();
    private bool _retired;

    public override Socket Create(AddressFamily addressFamily)
    {
        var s = SideSockets.Create(addressFamily);
        lock (_created)
        {
            if (_retired) s.Dispose();
            else _created.Add(s);
        }
        return s;
    }

    /// <summary>Closes every socket created so far (idempotent). A later re-bind may create more.</summary>
    public void DisposeAll()
    {
        lock (_created)
        {
            foreach (var s in _created) s.Dispose();
            _created.Clear();
        }
    }

    /// <summary>The side is gone for good: close everything, close what is created later, and stop tracking.</summary>
    public void Retire()
    {
        lock (_created) _retired = true;
        DisposeAll();
        live?.TryRemove(this, out _);
    }
}

using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;

namespace ActorRelay.Sides;

/// <summary>
/// A side on the <c>socket</c> transport. The actor is the control plane: it owns the bind and the
/// <see cref="SocketSide"/> loop, reports bind results and latch changes to its channel, re-binds the
/// same port if the socket fails, and frees the port when it stops, however it stops.
/// States: Bound (waiting for the sibling) → Relaying.
/// </summary>
internal sealed class SocketSideActor : ReceiveActor
{
    private const int MaxRecoveries = 3;
    private readonly SideSpec _spec;
    private readonly IActorRef _channel;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private SocketSide? _side;
    private int _recoveries;

    public SocketSideActor(SideSpec spec, IActorRef channel)
    {
        _spec = spec;
        _channel = channel;
        Bound();
    }

    public static Props Props(SideSpec spec, IActorRef channel) =>
        Akka.Actor.Props.Create(() => new SocketSideActor(spec, channel));

    protected override void PreStart()
    {
        Socket socket;
        try
        {
            socket = SocketBinder.Bind(_spec.Bind, _spec.ReceiveBuffer, _spec.SendBuffer);
        }
        catch (SocketException e)
        {
            _channel.Tell(new SideBindFailed(_spec.Side, _spec.Bind.Port, e.SocketErrorCode, e.Message));
            Context.Stop(Self);
            return;
        }
        _side = new SocketSide(_spec, socket, _channel, Self);
        _channel.Tell(new SideBound(_spec.Side, _side.LocalEndPoint, _side));
    }

    private void Bound()
    {
        Receive<ConnectSibling>(c =>
        {
            if (_side is null) return;
            _side.Sibling = c.Sibling;
            _side.Start();
            Become(Relaying);
        });
        CommonHandlers();
    }

    private void Relaying()
    {
        Receive<SocketSideFault>(f => Recover(f));
        CommonHandlers();
    }

    private void CommonHandlers()
    {
        Receive<CloseSide>(_ =>
        {
            _side?.Dispose();
            Sender.Tell(new SideClosed(_spec.Side));
            Context.Stop(Self);
        });
    }

    private void Recover(SocketSideFault fault)
    {
        if (_side is null || !ReferenceEquals(fault.Socket, _side.Socket)) return;
        _log.Warning("Channel {Channel} side {Side}: socket failed ({Error}); re-binding port {Port}",
            _spec.ChannelId, _spec.Side, fault.Error.Message, _spec.Bind.Port);
        if (++_recoveries > MaxRecoveries)
            throw new SideFailedException($"socket failed {_recoveries} times, last: {fault.Error.Message}", fault.Error);
        var local = _side.LocalEndPoint;
        _side.Socket.Dispose();   // frees the port so the same port can be bound again
        var replacement = SocketBinder.Bind(local, _spec.ReceiveBuffer, _spec.SendBuffer); // throws → channel stops us
        _side.Rebind(replacement);
        _channel.Tell(new SideRecovered(_spec.Side, fault.Error.Message));
    }

    protected override void PostStop() => _side?.Dispose();
}

/// <summary>A side could not keep its port; its channel closes with reason SideFailed.</summary>
public sealed class SideFailedException(string message, Exception? inner = null) : Exception(message, inner);

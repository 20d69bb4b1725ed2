using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;

namespace ActorRelay.Sides;

/// <summary>
/// A side on the <c>socket</c> transport. The actor is the control plane: it owns the bind and the
/// <see cref="SocketSide"/> data path, reports bind results and latch changes to its channel, re-binds the
/// same port if the socket fails, and frees the port when it stops, however it stops.
/// States: Bound (waiting for the sibling) → Relaying ⇄ Recovering → Closing.
/// <para>A node holds two of these per channel, so each state is a method that matches its messages (an
/// <see cref="ActorBase"/>): a ReceiveActor keeps a table of handler delegates per instance and per state,
/// about 1 KB per side (measured with dotnet-gcdump, docs/benchmarks.md).</para>
/// </summary>
internal sealed class SocketSideActor : ActorBase
{
    private const int MaxRecoveries = 3;
    private readonly SideSpec _spec;
    private readonly IActorRef _channel;
    private ILoggingAdapter? _log;
    private SocketSide? _side;
    private IPEndPoint? _local; // the port actually bound: a re-bind takes the same one
    private bool _socketClosed = true;
    private int _recoveries;
    private IActorRef _closeRequester = ActorRefs.Nobody;

    public SocketSideActor(SideSpec spec, IActorRef channel)
    {
        _spec = spec;
        _channel = channel;
    }

    public static Props Props(SideSpec spec, IActorRef channel) =>
        Akka.Actor.Props.Create(() => new SocketSideActor(spec, channel)).WithMailbox(Channels.CompactMailbox.ConfigPath);

    private ILoggingAdapter Log => _log ??= Context.GetLogger();

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
        _socketClosed = false;
        _local = _side.LocalEndPoint;
        _channel.Tell(new SideBound(_spec.Side, _local, _side));
    }

    /// <summary>Bound: waiting for the sibling.</summary>
    protected override bool Receive(object message)
    {
        switch (message)
        {
            case ConnectSibling c:
                if (_side is null) return true;
                _side.Sibling = c.Sibling;
                _side.Start();
                Become(Relaying);
                return true;
            case CloseSide:
                Close();
                return true;
            default:
                return false;
        }
    }

    private bool Relaying(object message)
    {
        switch (message)
        {
            case SocketSideFault f when f.Socket == _side!.Socket:
                Log.Warning("Channel {Channel} side {Side}: socket failed ({Error}); re-binding port {Port}",
                    _spec.ChannelId, _spec.Side, f.Error.Message, _spec.Bind.Port);
                if (++_recoveries > MaxRecoveries)
                    throw new SideFailedException($"socket failed {_recoveries} times, last: {f.Error.Message}", f.Error);
                var why = f.Error.Message;
                var self = Self;
                _side.CloseSocket(() => self.Tell(new SocketClosed(why))); // the port must be free before it is bound again
                Become(Recovering);
                return true;
            case CloseSide:
                Close();
                return true;
            default:
                return false;
        }
    }

    private bool Recovering(object message)
    {
        switch (message)
        {
            case SocketClosed c:
                _socketClosed = true;
                var replacement = SocketBinder.Bind(_local!, _spec.ReceiveBuffer, _spec.SendBuffer); // throws → channel stops us
                _side!.Rebind(replacement);
                _socketClosed = false;
                _channel.Tell(new SideRecovered(_spec.Side, c.Why));
                Become(Relaying);
                return true;
            case CloseSide:
                // the old socket is closing already; once it is, there is nothing to re-bind
                _closeRequester = Sender;
                Become(Closing);
                return true;
            default:
                return false;
        }
    }

    private void Close()
    {
        _closeRequester = Sender;
        if (_side is null || _socketClosed) { Closed(); return; }
        var self = Self;
        _side.CloseSocket(() => self.Tell(new SocketClosed("closed")));
        Become(Closing);
    }

    private bool Closing(object message)
    {
        if (message is SocketClosed) Closed();
        return true; // anything else is moot now
    }

    private void Closed()
    {
        _socketClosed = true;
        _closeRequester.Tell(new SideClosed(_spec.Side));
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        if (_side is not null && !_socketClosed) _side.CloseSocket(null); // stopped abruptly: the port is freed all the same
    }

    private sealed record SocketClosed(string Why);
}

/// <summary>A side could not keep its port; its channel closes with reason SideFailed.</summary>
public sealed class SideFailedException(string message, Exception? inner = null) : Exception(message, inner);

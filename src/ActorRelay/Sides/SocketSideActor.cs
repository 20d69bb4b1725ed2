using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ActorRelay.Sides.Epoll;
using ActorRelay.Sides.Dotnet;

namespace ActorRelay.Sides;

/// <summary>
/// The <c>socket</c> transport's data path on either engine: one bound socket whose datagrams are decided outside
/// the side actor's mailbox and sent straight out of the sibling's socket. What the side actor drives.
/// </summary>
internal interface ISocketDataPath : ISideDataPath
{
    Socket Socket { get; }
    IPEndPoint LocalEndPoint { get; }

    /// <summary>Starts relaying (after <see cref="ISideDataPath.ConnectSibling"/>). Failures reach the side actor as <see cref="SocketFault"/>.</summary>
    void Start();

    /// <summary>Relays on a new socket bound to the same port, after the old one failed and was closed.</summary>
    void Rebind(Socket replacement);

    /// <summary>Closes the current socket; once its port is free and no thread uses it, calls <paramref name="closed"/> (any thread).</summary>
    void CloseSocket(Action? closed);
}

/// <summary>
/// A side on the <c>socket</c> transport. The actor is the control plane: it owns the bind and the data path (an
/// <see cref="EpollSide"/> on a relay loop, or a <see cref="DotnetSide"/> on the runtime's socket engine),
/// reports the bind's result to its channel, binds the same port again if the socket fails (at most
/// relay.recovery-attempts times), and frees the port when it stops, however it stops.
/// States: Bound (waiting for the sibling) → Relaying ⇄ Recovering → Closing.
/// <para>A node holds two of these per channel, so each state is a method that matches its messages (an
/// <see cref="ActorBase"/>): a ReceiveActor keeps a table of handler delegates per instance and per state,
/// about 1 KB per side (measured with dotnet-gcdump, docs/benchmarks.md).</para>
/// </summary>
internal sealed class SocketSideActor : ActorBase
{
    private readonly SideSpec _spec;
    private readonly IActorRef _channel;
    private ILoggingAdapter? _log;
    private ISocketDataPath? _path;
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
        ActorProps.Of(() => new SocketSideActor(spec, channel), Channels.CompactMailbox.Deployment);

    private ILoggingAdapter Log => _log ??= Context.GetLogger();

    protected override void PreStart()
    {
        Socket socket;
        try
        {
            socket = SideSockets.Bind(_spec.Bind, _spec.Settings.SocketReceiveBuffer, _spec.Settings.SocketSendBuffer);
        }
        catch (SocketException e)
        {
            _channel.Tell(new SideBindFailed(_spec.Side, _spec.Bind.Port, e.SocketErrorCode, e.Message));
            Context.Stop(Self);
            return;
        }
        _path = _spec.Loop is { } loop
            ? new EpollSide(_spec, socket, loop, _channel, Self)
            : new DotnetSide(_spec, socket, _channel, Self);
        _socketClosed = false;
        _local = _path.LocalEndPoint;
        _channel.Tell(new SideBound(_spec.Side, _local, _path));
    }

    /// <summary>Bound: waiting for the channel to connect the sibling.</summary>
    protected override bool Receive(object message)
    {
        switch (message)
        {
            case StartRelaying when _path is not null:
                _path.Start();
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
            case SocketFault f when f.Socket == _path!.Socket:
                Log.Warning("Channel {Channel} side {Side}: socket failed ({Error}); re-binding port {Port}",
                    _spec.ChannelId, _spec.Side, f.Error.Message, _local!.Port);
                if (++_recoveries > _spec.Settings.RecoveryAttempts)
                    throw new SideFailedException($"socket failed {_recoveries} times, last: {f.Error.Message}", f.Error);
                var why = f.Error.Message;
                var self = Self;
                _path.CloseSocket(() => self.Tell(new SocketClosed(why))); // the port must be free before it is bound again
                Become(Recovering);
                return true;
            case SocketFault:
                return true; // a fault of a socket already replaced: moot
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
                var replacement = SideSockets.Bind(_local!, _spec.Settings.SocketReceiveBuffer, _spec.Settings.SocketSendBuffer); // throws → channel stops us
                _path!.Rebind(replacement);
                _socketClosed = false;
                _channel.Tell(new SideRecovered(_spec.Side, c.Why));
                Become(Relaying);
                return true;
            case SocketFault:
                return true; // the failing socket is closing already
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
        if (_path is null || _socketClosed) { Closed(); return; }
        var self = Self;
        _path.CloseSocket(() => self.Tell(new SocketClosed("closed")));
        Become(Closing);
    }

    private bool Closing(object message)
    {
        switch (message)
        {
            case SocketClosed:
                Closed();
                return true;
            case CloseSide or SocketFault:
                return true; // closing already: a second close, or a fault of the socket being closed, changes nothing
            default:
                return false;
        }
    }

    private void Closed()
    {
        _socketClosed = true;
        _closeRequester.Tell(new SideClosed(_spec.Side));
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        if (_path is not null && !_socketClosed) _path.CloseSocket(null); // stopped abruptly: the port is freed all the same
    }

    private sealed record SocketClosed(string Why);
}

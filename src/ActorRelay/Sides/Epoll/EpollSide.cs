using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ActorRelay.RelayLoops;

namespace ActorRelay.Sides.Epoll;

/// <summary>
/// The <c>socket</c> transport on a relay loop (<c>relay.socket-engine = epoll</c>, the default on Linux x64/arm64):
/// the side's socket joins the <see cref="RelayLoop"/> both sides of its channel share, which reads it with
/// recvfrom/recvmmsg, admits each datagram through this data path and sends the admitted ones out of the
/// sibling's socket with sendto/sendmmsg. The side owns no buffer and no async state.
/// <para>Threads: the loop's thread alone reads, admits, counts and sends for this side, and alone uses the
/// <c>Loop*</c> fields; the side actor hands the socket over with <see cref="Start"/>/<see cref="Rebind"/> and takes it
/// back with <see cref="CloseSocket"/> (commands the loop runs on its own thread), so the descriptor is closed by the
/// thread that uses it and never reused under it.</para>
/// </summary>
internal sealed class EpollSide : SideDataPath<EpollSide>, ISocketDataPath
{
    private readonly RelayLoop _loop;
    private volatile Socket _socket;   // the side actor's current socket (Start/Rebind/CloseSocket name it to the loop)

    // Owned by the relay loop's thread: the attached socket, its descriptor, and the loop's view of how busy it is.
    internal ulong LoopToken;
    internal int LoopFd = -1;
    internal Socket? LoopSocket;
    internal uint LoopLastRound;             // the loop's last wake-up round in which this socket was ready

    public EpollSide(SideSpec spec, Socket socket, RelayLoop loop, IActorRef channel, IActorRef side) : base(spec, channel, side)
    {
        _socket = socket;
        _loop = loop;
    }

    public Socket Socket => _socket;
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public void Start() => _loop.Attach(this, _socket); // the loop never blocks: it passes MSG_DONTWAIT

    public void Rebind(Socket replacement)
    {
        _socket = replacement;
        Start();
    }

    public void CloseSocket(Action? closed) => _loop.Close(this, _socket, closed);
}

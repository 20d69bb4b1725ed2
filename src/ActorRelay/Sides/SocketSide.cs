using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ActorRelay.Latching;
using ActorRelay.Protocol;

namespace ActorRelay.Sides;

/// <summary>
/// The <c>socket</c> transport's data path: one bound socket whose datagrams are decided outside the actor's
/// mailbox and sent straight out of the sibling's socket, allocation-free per packet. Two engines:
/// <list type="bullet">
/// <item>a <see cref="RelayLoop"/> (Linux, the default there): the socket joins a relay thread that serves many
///   sockets with epoll and batched system calls;</item>
/// <item>otherwise the runtime's socket engine: one <c>ReceiveFromAsync</c> loop per socket with its own buffer,
///   completing inline on the engine's thread when the node enables inline completions
///   (see <see cref="Hosting.RelayRuntime"/>).</item>
/// </list>
/// Either way the socket is closed through <see cref="CloseSocket"/>, which the relay loop carries out on its
/// own thread.
/// </summary>
internal sealed class SocketSide : SideDataPath
{
    private readonly RelayLoop? _loop;
    private byte[]? _buffer;
    private volatile Socket _socket;

    // Owned by the relay loop's thread (engine RelayLoop only): the attached socket and its descriptor.
    internal ulong LoopToken;
    internal int LoopFd = -1;
    internal Socket? LoopSocket;
    internal uint LoopLastRound;             // the loop's last wake-up round in which this socket was ready
    internal bool LoopStamped;               // the kernel stamps this socket's datagrams (while it is busy)
    internal int LoopCalmReads;              // reads since it was last busy

    public SocketSide(SideSpec spec, Socket socket, IActorRef channel, IActorRef side) : base(spec, channel, side)
    {
        _socket = socket;
        _loop = spec.Loop;
    }

    public Socket Socket => _socket;
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Starts relaying. Failures other than closing reach the side actor as <see cref="SocketSideFault"/>.</summary>
    public void Start()
    {
        var socket = _socket;
        if (_loop is not null) _loop.Attach(this, socket); // the loop never blocks: it passes MSG_DONTWAIT
        else
        {
            // Sends never block the receive path: a full send buffer is a counted drop, not a stall.
            socket.Blocking = false;
            _ = ReceiveLoop(socket);
        }
    }

    /// <summary>Takes a new socket bound to the same port (after the old one failed and was closed) and relays on it.</summary>
    public void Rebind(Socket replacement)
    {
        _socket = replacement;
        Start();
    }

    /// <summary>Closes the current socket (on the relay loop's thread when there is one), then calls <paramref name="closed"/>.</summary>
    public void CloseSocket(Action? closed)
    {
        if (_loop is not null) _loop.Close(this, _socket, closed);
        else
        {
            _socket.Dispose();
            closed?.Invoke();
        }
    }

    // ---- the runtime's socket engine ----------------------------------------------------------

    private async Task ReceiveLoop(Socket socket)
    {
        // One byte more than the largest datagram relayed: a datagram that fills the buffer is oversize.
        _buffer ??= GC.AllocateArray<byte>(Spec.MaxDatagram + 1, pinned: true);
        var from = new SocketAddress(socket.AddressFamily);
        while (ReferenceEquals(socket, _socket))
        {
            int n;
            try
            {
                n = await socket.ReceiveFromAsync(_buffer, SocketFlags.None, from).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize
                                                or SocketError.NetworkReset or SocketError.HostUnreachable
                                                or SocketError.NetworkUnreachable or SocketError.ConnectionRefused)
            {
                continue; // ICMP errors reported on the socket (Windows, or Linux after a send): not fatal
            }
            catch (Exception e) when (e is ObjectDisposedException ||
                                      e is SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted })
            {
                return; // closed
            }
            catch (Exception e)
            {
                if (ReferenceEquals(socket, _socket)) SideActor.Tell(new SocketSideFault(socket, e));
                return;
            }
            Relay(n, from);
        }
    }

    private void Relay(int length, SocketAddress from)
    {
        var datagram = new ReadOnlySpan<byte>(_buffer, 0, length);
        if (!PacketSource.TryRead(from, out var source))
        {
            Counters.OnReceived(length, Spec.Clock.NowMs);
            Drop(DropReason.InvalidSource);
            return;
        }
        var target = Admit(datagram, source, from.Buffer.Span[..from.Size]);
        if (target is null) return;
        if (((SocketSide)Sibling!).TrySend(datagram, target.Address)) Counters.OnForwarded(length);
        else Drop(DropReason.SendFailed);
    }

    /// <summary>Sends out of this side's socket (the port the client sent to, so its NAT lets the reply in).</summary>
    private bool TrySend(ReadOnlySpan<byte> datagram, SocketAddress to)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, to);
            return true;
        }
        catch (SocketException)
        {
            return false; // buffer full (non-blocking), unreachable: the packet is lost, the side lives on
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }
}

/// <summary>The socket failed on an unexpected error (and is closed, or about to be).</summary>
internal sealed record SocketSideFault(Socket Socket, Exception Error) : INoSerializationVerificationNeeded;

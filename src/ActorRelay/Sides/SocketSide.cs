using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ActorRelay.Latching;
using ActorRelay.Protocol;

namespace ActorRelay.Sides;

/// <summary>
/// The <c>socket</c> transport's data path: one bound socket and one receive loop that runs outside
/// the actor's mailbox and sends each admitted datagram straight out of the sibling's socket.
/// Allocation-free per packet: one receive buffer and one <see cref="SocketAddress"/> are reused,
/// and the receive completes inline on the socket engine's thread when the node enables inline
/// completions (see <see cref="Hosting.RelayRuntime"/>).
/// </summary>
internal sealed class SocketSide : SideDataPath, IDisposable
{
    private readonly byte[] _buffer;
    private readonly SocketAddress _from;
    private volatile Socket _socket;
    private volatile bool _closed;

    public SocketSide(SideSpec spec, Socket socket, IActorRef channel, IActorRef side) : base(spec, channel, side)
    {
        _socket = socket;
        // One byte more than the largest datagram relayed: a datagram that fills the buffer is oversize.
        _buffer = GC.AllocateArray<byte>(spec.MaxDatagram + 1, pinned: true);
        _from = new SocketAddress(socket.AddressFamily);
    }

    public Socket Socket => _socket;
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Starts the receive loop. Failures other than closing are reported to the side actor as <see cref="SocketSideFault"/>.</summary>
    public void Start() => _ = ReceiveLoop(_socket);

    /// <summary>Replaces a failed socket with a new one bound to the same port and restarts the loop.</summary>
    public void Rebind(Socket replacement)
    {
        var old = _socket;
        _socket = replacement;
        old.Dispose();
        Start();
    }

    private async Task ReceiveLoop(Socket socket)
    {
        while (!_closed && ReferenceEquals(socket, _socket))
        {
            int n;
            try
            {
                n = await socket.ReceiveFromAsync(_buffer, SocketFlags.None, _from).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize
                                                or SocketError.NetworkReset or SocketError.HostUnreachable
                                                or SocketError.NetworkUnreachable or SocketError.ConnectionRefused)
            {
                continue; // ICMP errors reported on the socket (Windows, or Linux after a send): not fatal
            }
            catch (Exception e) when (_closed || e is ObjectDisposedException ||
                                      e is SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted })
            {
                return;
            }
            catch (Exception e)
            {
                if (ReferenceEquals(socket, _socket)) SideActor.Tell(new SocketSideFault(socket, e));
                return;
            }
            Relay(n);
        }
    }

    private void Relay(int length)
    {
        var datagram = new ReadOnlySpan<byte>(_buffer, 0, length);
        if (!PacketSource.TryRead(_from, out var source))
        {
            Counters.OnReceived(length, Spec.Clock.NowMs);
            Drop(DropReason.InvalidSource);
            return;
        }
        var target = Admit(datagram, source, _from);
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

    public void Dispose()
    {
        _closed = true;
        _socket.Dispose();
    }
}

/// <summary>The receive loop died on an unexpected socket error.</summary>
internal sealed record SocketSideFault(Socket Socket, Exception Error) : INoSerializationVerificationNeeded;

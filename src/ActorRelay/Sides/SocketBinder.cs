using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Sides;

/// <summary>Creates side sockets: dual-stack for "::" (falling back to 0.0.0.0 on hosts without IPv6), buffers set.</summary>
internal static class SocketBinder
{
    /// <summary>Creates an unbound UDP socket for <paramref name="bind"/>'s family (dual-stack for IPv6).</summary>
    public static Socket Create(IPEndPoint bind, int receiveBuffer, int sendBuffer)
    {
        var s = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (bind.AddressFamily == AddressFamily.InterNetworkV6) s.DualMode = true;
            if (receiveBuffer > 0) s.ReceiveBufferSize = receiveBuffer;
            if (sendBuffer > 0) s.SendBufferSize = sendBuffer;
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    /// <summary>Binds a new socket; "::" falls back to 0.0.0.0 where IPv6 is unavailable. Throws SocketException.</summary>
    public static Socket Bind(IPEndPoint bind, int receiveBuffer, int sendBuffer)
    {
        try
        {
            return BindExactly(bind, receiveBuffer, sendBuffer);
        }
        catch (SocketException e) when (bind.Address.Equals(IPAddress.IPv6Any) &&
                                         e.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable)
        {
            return BindExactly(new IPEndPoint(IPAddress.Any, bind.Port), receiveBuffer, sendBuffer);
        }
    }

    private static Socket BindExactly(IPEndPoint bind, int receiveBuffer, int sendBuffer)
    {
        var s = Create(bind, receiveBuffer, sendBuffer);
        try
        {
            s.Bind(bind);
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }
}

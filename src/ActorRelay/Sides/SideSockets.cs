using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Sides;

/// <summary>
/// The one factory of side sockets, for every transport: dual-stack for IPv6 (an IPv4 client of "::" is served
/// IPv4-mapped), kernel buffers as configured, and "::" meaning every IPv4 interface on a host without IPv6.
/// </summary>
internal static class SideSockets
{
    /// <summary>The endpoint a side really binds on this host: "::" becomes 0.0.0.0 where the host has no IPv6.</summary>
    public static IPEndPoint Usable(IPEndPoint bind) =>
        bind.Address.Equals(IPAddress.IPv6Any) && !Socket.OSSupportsIPv6 ? new IPEndPoint(IPAddress.Any, bind.Port) : bind;

    /// <summary>An unbound UDP socket of <paramref name="family"/> (dual-stack for IPv6); buffers of 0 keep the OS default.</summary>
    public static Socket Create(AddressFamily family, int receiveBuffer = 0, int sendBuffer = 0)
    {
        var s = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (family == AddressFamily.InterNetworkV6) s.DualMode = true;
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

    /// <summary>A new socket bound to <paramref name="bind"/> (see <see cref="Usable"/>). Throws SocketException.</summary>
    public static Socket Bind(IPEndPoint bind, int receiveBuffer, int sendBuffer)
    {
        bind = Usable(bind);
        var s = Create(bind.AddressFamily, receiveBuffer, sendBuffer);
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

    /// <summary>
    /// Why binding <paramref name="bind"/> fails now, as the OS says it, or <see cref="SocketError.Success"/> when it
    /// binds (then released at once). For transports that report a failed bind without its cause (Akka.IO).
    /// </summary>
    public static SocketError Diagnose(IPEndPoint bind)
    {
        try
        {
            using var s = Bind(bind, 0, 0);
            return SocketError.Success;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode;
        }
    }
}

using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace ActorRelay.Control;

/// <summary>The address a node advertises when it binds every interface and was not told what to advertise.</summary>
public static class HostAddresses
{
    /// <summary>
    /// The host's primary address: an up, non-loopback interface's unicast address, IPv4 before IPv6, global before
    /// link-local (unusable in SDP); loopback only when the host has nothing else.
    /// </summary>
    public static IPAddress Primary()
    {
        var candidates = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses.Select(u => u.Address))
            .Where(a => !IPAddress.IsLoopback(a) && !a.IsIPv6LinkLocal && !a.IsIPv6Multicast &&
                        (a.AddressFamily == AddressFamily.InterNetwork || a.AddressFamily == AddressFamily.InterNetworkV6))
            .OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
            .ToList();
        return candidates.FirstOrDefault() ?? IPAddress.Loopback;
    }

    /// <summary>True for addresses no SDP can carry to a remote client: unspecified (0.0.0.0, ::).</summary>
    public static bool IsUnspecified(IPAddress a) => a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any);
}

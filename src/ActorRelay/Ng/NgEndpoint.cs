using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Control;
using ActorRelay.Settings;

namespace ActorRelay.Ng;

/// <summary>A started NG endpoint: its call book (/user/ng) and where it listens.</summary>
public sealed record NgStarted(IActorRef Book, IReadOnlyList<IPEndPoint> Listening);

/// <summary>
/// Starts the NG endpoint of a node: the call book (/user/ng) and one endpoint actor per relay.ng.listen address
/// (/user/ng-endpoint-1, ...), each with its UDP socket bound here, so an address that cannot be bound fails the
/// start instead of leaving a node deaf to its SIP proxy. The call book sends the node's own messages to
/// <c>node</c> (OpenChannel, ResignalSide, CloseChannel, GetChannel, ListChannels, GetNodeStatus); the channels it
/// opens belong to the node's own process.
/// </summary>
public static class NgEndpoint
{
    public const string BookName = "ng";

    /// <summary>The call book and the addresses the endpoints listen on (a port 0 in relay.ng.listen is the one the system chose), or null when relay.ng.listen is empty (nothing is started).</summary>
    /// <exception cref="ConfigurationException">relay.ng cannot be read, or a listen address cannot be bound.</exception>
    public static NgStarted? Start(ActorSystem system, IActorRef node, RelayClock? clock = null, NgSettings? settings = null)
    {
        settings ??= NgSettings.From(system.Settings.Config);
        if (!settings.Enabled) return null;
        var relay = RelaySettings.From(system.Settings.Config);
        var sockets = new List<Socket>();
        try
        {
            foreach (var listen in settings.Listen) sockets.Add(Bind(listen, settings.ReceiveBuffer));
        }
        catch
        {
            foreach (var s in sockets) s.Dispose();
            throw;
        }
        var dualStack = relay.BindAddress.Equals(IPAddress.IPv6Any);
        var context = new NgCallContext(node, settings, relay.LatchMode, dualStack,
            relay.AdvertiseAddress is { AddressFamily: AddressFamily.InterNetwork } v4 ? v4 : HostAddress(AddressFamily.InterNetwork),
            relay.AdvertiseAddress is { AddressFamily: AddressFamily.InterNetworkV6 } v6 ? v6 : HostAddress(AddressFamily.InterNetworkV6),
            clock ?? RelayClock.System, relay.Clustered, relay.ClusterRole, relay.ClusterNodeTimeout, relay.ClusterEntryName);
        var book = system.ActorOf(NgCallBookActor.Props(context), BookName);
        for (var i = 0; i < sockets.Count; i++)
            system.ActorOf(NgEndpointActor.Props(sockets[i], book, settings, context.Clock), $"{BookName}-endpoint-{i + 1}");
        return new NgStarted(book, sockets.Select(s => (IPEndPoint)s.LocalEndPoint!).ToList());
    }

    /// <summary>An NG socket bound to <paramref name="listen"/>, its receive buffer asked for <paramref name="receiveBuffer"/> bytes (0: the kernel's default).</summary>
    internal static Socket Bind(IPEndPoint listen, int receiveBuffer)
    {
        var socket = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (listen.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = listen.Address.Equals(IPAddress.IPv6Any);
            if (receiveBuffer > 0) socket.ReceiveBufferSize = receiveBuffer; // the kernel caps it at net.core.rmem_max
            socket.Bind(listen);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ConfigurationException($"relay.ng.listen: cannot listen on udp:{listen}: {e.Message}");
        }
    }

    /// <summary>The host's primary unicast address of a family (global before link-local), for address-family on dual-stack sides.</summary>
    private static IPAddress? HostAddress(AddressFamily family)
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses.Select(u => u.Address))
                .Where(a => a.AddressFamily == family && !IPAddress.IsLoopback(a) && !a.IsIPv6LinkLocal && !HostAddresses.IsUnspecified(a))
                .FirstOrDefault();
        }
        catch (NetworkInformationException)
        {
            return null;
        }
    }
}

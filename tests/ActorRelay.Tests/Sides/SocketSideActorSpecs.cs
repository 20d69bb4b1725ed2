using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ActorRelay.Protocol;
using ActorRelay.Sides;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Sides;

/// <summary>The socket side: its bind, its recovery from a failed socket, and its port always freed.</summary>
public sealed class SocketSideActorSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private readonly (int Min, int Max) _ports = TestPorts.Block(4);

    private SideSpec Spec(Side side, int port) =>
        new("ch", side, new IPEndPoint(IPAddress.Loopback, port), ActorRelay.Latching.LatchPolicy.Default, 1500, 0, 0, RelayClock.System);

    private static bool Bindable(int port)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException) { return false; }
    }

    [Fact]
    public void A_port_in_use_is_a_bind_failure_and_the_side_stops()
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, _ports.Min));
        var channel = CreateTestProbe();
        var side = Sys.ActorOf(SocketSideActor.Props(Spec(Side.Left, _ports.Min), channel.Ref));
        Watch(side);
        var failed = channel.ExpectMsg<SideBindFailed>();
        Assert.Equal(SocketError.AddressAlreadyInUse, failed.Error);
        ExpectTerminated(side);
    }

    [Fact]
    public async Task A_failed_socket_is_rebound_on_the_same_port_and_relaying_goes_on()
    {
        var channel = CreateTestProbe();
        var left = Sys.ActorOf(SocketSideActor.Props(Spec(Side.Left, _ports.Min), channel.Ref));
        var right = Sys.ActorOf(SocketSideActor.Props(Spec(Side.Right, _ports.Min + 1), channel.Ref));
        var bounds = new[] { channel.ExpectMsg<SideBound>(), channel.ExpectMsg<SideBound>() };
        var l = (SocketSide)bounds.Single(b => b.Side == Side.Left).DataPath;
        var r = (SocketSide)bounds.Single(b => b.Side == Side.Right).DataPath;
        l.Sibling = r;
        r.Sibling = l;
        left.Tell(new ConnectSibling(r));
        right.Tell(new ConnectSibling(l));

        var failedSocket = l.Socket;
        left.Tell(new SocketSideFault(failedSocket, new SocketException((int)SocketError.NetworkDown)));
        channel.FishForMessage(m => m is SideRecovered);
        Assert.NotSame(failedSocket, l.Socket);
        Assert.Equal(_ports.Min, l.LocalEndPoint.Port);

        using var a = new UdpPeer();
        using var b = new UdpPeer();
        b.SendTo(new RelayEndpoint("127.0.0.1", _ports.Min + 1), "b"u8.ToArray());
        await AwaitAssertAsync(() => Assert.NotNull(r.Target), TimeSpan.FromSeconds(3));
        a.SendTo(new RelayEndpoint("127.0.0.1", _ports.Min), "through the new socket"u8.ToArray());
        Assert.Equal("through the new socket"u8.ToArray(), await b.ExpectAsync(TimeSpan.FromSeconds(3)));
    }
}

using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ActorRelay.Protocol;
using ActorRelay.RelayLoops;
using ActorRelay.Settings;
using ActorRelay.Sides;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Sides;

/// <summary>The socket side on each engine: its bind, its recovery from a failed socket, and its port always freed.</summary>
public abstract class SocketSideActorSpecs : TestKit
{
    private readonly (int Min, int Max) _ports = TestPorts.Block(4);
    private readonly RelayLoop? _loop;

    protected SocketSideActorSpecs(bool relayLoop, ITestOutputHelper output) : base(ActorRelay.Settings.RelaySettings.DefaultConfig(), output: output)
    {
        if (relayLoop) _loop = new RelayLoop("spec-loop", 1500);
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _loop?.Dispose();
    }

    private SideSpec Spec(Side side, int port) =>
        new("ch", side, new IPEndPoint(IPAddress.Loopback, port), RelaySettings.Default.Latch, RelaySettings.Default, RelayClock.System, _loop);

    private (IActorRef Left, IActorRef Right, ISocketDataPath L, ISocketDataPath R) Connected(Akka.TestKit.TestProbe channel)
    {
        var left = Sys.ActorOf(SocketSideActor.Props(Spec(Side.Left, _ports.Min), channel.Ref));
        var right = Sys.ActorOf(SocketSideActor.Props(Spec(Side.Right, _ports.Min + 1), channel.Ref));
        var bounds = new[] { channel.ExpectMsg<SideBound>(), channel.ExpectMsg<SideBound>() };
        var l = (ISocketDataPath)bounds.Single(b => b.Side == Side.Left).DataPath;
        var r = (ISocketDataPath)bounds.Single(b => b.Side == Side.Right).DataPath;
        l.ConnectSibling(r);
        r.ConnectSibling(l);
        left.Tell(StartRelaying.Instance);
        right.Tell(StartRelaying.Instance);
        return (left, right, l, r);
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
        var (left, _, l, r) = Connected(channel);

        var failedSocket = l.Socket;
        left.Tell(new SocketFault(failedSocket, new SocketException((int)SocketError.NetworkDown)));
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

    [Fact]
    public void After_the_configured_recovery_attempts_a_failing_side_gives_up_and_frees_its_port()
    {
        var channel = CreateTestProbe();
        // the side's parent stops a child that throws, as its channel does
        var side = ChildActorOf(SocketSideActor.Props(Spec(Side.Left, _ports.Min), channel.Ref), "side",
            new OneForOneStrategy(_ => Directive.Stop));
        var path = (ISocketDataPath)channel.ExpectMsg<SideBound>().DataPath;
        path.ConnectSibling(path); // relays to itself: enough to start it
        side.Tell(StartRelaying.Instance);
        Watch(side);
        for (var i = 1; i <= RelaySettings.Default.RecoveryAttempts; i++)
        {
            side.Tell(new SocketFault(path.Socket, new SocketException((int)SocketError.NetworkDown)));
            channel.ExpectMsg<SideRecovered>();
        }
        side.Tell(new SocketFault(path.Socket, new SocketException((int)SocketError.NetworkDown)));
        ExpectTerminated(side);
        AwaitAssert(() => Assert.True(TestPorts.Bindable(_ports.Min)), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void Close_answers_only_once_the_port_is_free()
    {
        var channel = CreateTestProbe();
        var (left, right, _, _) = Connected(channel);
        left.Tell(CloseSide.Instance, channel.Ref);
        right.Tell(CloseSide.Instance, channel.Ref);
        channel.ExpectMsg<SideClosed>();
        channel.ExpectMsg<SideClosed>();
        Assert.True(TestPorts.Bindable(_ports.Min), "left port still bound after SideClosed");
        Assert.True(TestPorts.Bindable(_ports.Min + 1), "right port still bound after SideClosed");
    }

    [Fact]
    public void A_side_stopped_abruptly_frees_its_port()
    {
        var channel = CreateTestProbe();
        var (left, _, _, _) = Connected(channel);
        Watch(left);
        Sys.Stop(left);
        ExpectTerminated(left);
        AwaitAssert(() => Assert.True(TestPorts.Bindable(_ports.Min)), TimeSpan.FromSeconds(3));
    }
}

public sealed class RelayLoopSocketSideActorSpecs(ITestOutputHelper output) : SocketSideActorSpecs(relayLoop: true, output);

public sealed class DotnetEngineSocketSideActorSpecs(ITestOutputHelper output) : SocketSideActorSpecs(relayLoop: false, output);

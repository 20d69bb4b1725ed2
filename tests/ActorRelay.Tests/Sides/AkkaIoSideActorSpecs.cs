using System.Net;
using Akka.Actor;
using Akka.IO;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Sides;
using ActorRelay.Sides.AkkaIo;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Sides;

/// <summary>The akka-io side against a probe that stands in for the Akka.IO UDP manager and listener.</summary>
public sealed class AkkaIoSideActorSpecs(ITestOutputHelper output) : TestKit(ActorRelay.Settings.RelaySettings.DefaultConfig(), output: output)
{
    // a port of this test's own (a failed bind is diagnosed by binding it for a moment)
    private readonly IPEndPoint Local = new(IPAddress.Loopback, ActorRelay.Tests.Support.TestPorts.Block(1).Min);
    private static readonly IPEndPoint Client = new(IPAddress.Parse("198.51.100.10"), 40000);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(3);

    private SideSpec Spec(Side side = Side.Left) =>
        new("ch", side, Local, RelaySettings.Default.Latch, RelaySettings.Default, RelayClock.System);

    private (IActorRef Side, TestProbe Manager, TestProbe Channel, TestProbe Listener) Start()
    {
        var manager = CreateTestProbe();
        var channel = CreateTestProbe();
        var listener = CreateTestProbe();
        var side = Sys.ActorOf(AkkaIoSideActor.Props(Spec(), channel.Ref, manager.Ref));
        var bind = manager.ExpectMsg<Udp.Bind>();
        Assert.Equal(Local, bind.LocalAddress);
        Assert.Equal(side, bind.Handler);
        Assert.Contains(bind.Options, o => o is TrackingSocketCreator);
        return (side, manager, channel, listener);
    }

    private void Bound(IActorRef side, TestProbe listener) => listener.Send(side, new Udp.Bound(Local));

    /// <summary>
    /// A sibling data path that has latched <paramref name="at"/>, with a probe as its actor and, when given, a probe
    /// as the listener of its IPv4 socket.
    /// </summary>
    private AkkaIoSide LatchedSibling(TestProbe siblingActor, IPEndPoint at, TestProbe? siblingListener = null)
    {
        var path = new AkkaIoSide(Spec(Side.Right), CreateTestProbe().Ref, siblingActor.Ref);
        path.Admit(new byte[12], at); // latches; dropped itself (its own peer is unknown)
        Assert.NotNull(path.Target);
        if (siblingListener is not null) path.Outlet = new Outlet(siblingListener.Ref, System.Net.Sockets.AddressFamily.InterNetwork);
        return path;
    }

    /// <summary>What the channel does once both sides are bound: connect the data paths, then start the side.</summary>
    private static void Connect(IActorRef side, ISideDataPath path, AkkaIoSide sibling)
    {
        path.ConnectSibling(sibling);
        side.Tell(StartRelaying.Instance);
    }

    [Fact]
    public void A_bind_failure_is_reported_and_the_bound_null_that_follows_is_ignored()
    {
        var (side, manager, channel, listener) = Start();
        Watch(side);
        var bind = new Udp.Bind(side, Local);
        listener.Send(side, new Udp.CommandFailed(bind));
        listener.Send(side, new Udp.Bound(null!));
        var failed = channel.ExpectMsg<SideBindFailed>();
        Assert.Equal(Local.Port, failed.Port);
        Assert.Contains($"Failed to bind on port {Local.Port}", failed.Message);
        ExpectTerminated(side);
        channel.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Received_datagrams_latch_and_leave_from_the_siblings_socket_through_its_listener()
    {
        var (side, _, channel, listener) = Start();
        Bound(side, listener);
        var bound = channel.ExpectMsg<SideBound>();
        Assert.Equal(Local, bound.Local);
        Assert.Equal(listener.Ref, ((AkkaIoSide)bound.DataPath).Outlet!.Listener); // where the sibling sends through
        var siblingActor = CreateTestProbe();
        var siblingListener = CreateTestProbe();
        var sibling = LatchedSibling(siblingActor, new IPEndPoint(IPAddress.Parse("203.0.113.20"), 50000), siblingListener);
        Connect(side, bound.DataPath, sibling);

        var data = ByteString.FromBytes(new byte[] { 0x80, 0, 0, 1 });
        listener.Send(side, new Udp.Received(data, Client));
        var latched = channel.ExpectMsg<SideLatchChanged>();
        Assert.Equal(Client, latched.Current);
        var send = siblingListener.ExpectMsg<Udp.Send>();
        Assert.Equal(data, send.Payload);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.20"), 50000), send.Target);
        Assert.Equal(siblingActor.Ref, siblingListener.LastSender); // a failed send goes to the sibling, as if it had sent it
        Assert.Equal(1, bound.DataPath.Counters.PacketsForwarded);
    }

    [Fact]
    public void A_target_the_siblings_socket_cannot_reach_is_dropped_before_it_can_crash_the_listener()
    {
        var (side, _, channel, listener) = Start();
        Bound(side, listener);
        var bound = channel.ExpectMsg<SideBound>();
        var siblingListener = CreateTestProbe();
        // the sibling's socket is IPv4, its latched client IPv6: Socket.SendTo would throw in the listener
        Connect(side, bound.DataPath, LatchedSibling(CreateTestProbe(), new IPEndPoint(IPAddress.Parse("2001:db8::1"), 5000), siblingListener));
        listener.Send(side, new Udp.Received(ByteString.FromBytes(new byte[4]), Client));
        siblingListener.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        AwaitAssert(() => Assert.Equal(1, bound.DataPath.Counters.Dropped(DropReason.SendFailed)), Wait);

        Assert.Null(AkkaIoSideActor.SendTarget(System.Net.Sockets.AddressFamily.InterNetwork, new IPEndPoint(IPAddress.Loopback, 0)));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9), AkkaIoSideActor.SendTarget(System.Net.Sockets.AddressFamily.InterNetwork,
            new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 9)));
        Assert.Equal(Client, AkkaIoSideActor.SendTarget(System.Net.Sockets.AddressFamily.InterNetworkV6, Client));
    }

    [Fact]
    public void Closing_unbinds_and_waits_for_unbound_before_stopping()
    {
        var (side, _, channel, listener) = Start();
        Bound(side, listener);
        channel.ExpectMsg<SideBound>();
        Watch(side);
        channel.Send(side, CloseSide.Instance);
        listener.ExpectMsg<Udp.Unbind>();
        channel.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // not closed before Unbound
        listener.Reply(Udp.Unbound.Instance);
        Assert.Equal(Side.Left, channel.ExpectMsg<SideClosed>().Side);
        ExpectTerminated(side);
    }

    [Fact]
    public void A_listener_that_never_answers_unbind_does_not_keep_the_side_alive()
    {
        var (side, _, channel, listener) = Start();
        Bound(side, listener);
        channel.ExpectMsg<SideBound>();
        Watch(side);
        channel.Send(side, CloseSide.Instance);
        listener.ExpectMsg<Udp.Unbind>();
        channel.ExpectMsg<SideClosed>(TimeSpan.FromSeconds(15)); // after relay.unbind-timeout (3 s); a deadline, generous on a shared host
        ExpectTerminated(side);
    }

    [Fact]
    public void A_listener_that_dies_is_replaced_on_the_same_port()
    {
        var (side, manager, channel, listener) = Start();
        Bound(side, listener);
        var path = (AkkaIoSide)channel.ExpectMsg<SideBound>().DataPath;
        Connect(side, path, LatchedSibling(CreateTestProbe(), Client));
        Sys.Stop(listener.Ref); // as after a failed send restarted it and its re-bind failed
        var rebind = manager.ExpectMsg<Udp.Bind>();
        Assert.Equal(Local, rebind.LocalAddress);
        Assert.Null(path.Outlet); // meanwhile the sibling drops what it would send through this side
        var second = CreateTestProbe();
        second.Send(side, new Udp.Bound(Local));
        channel.ExpectMsg<SideRecovered>();
        Assert.Equal(second.Ref, path.Outlet!.Listener); // the sibling now sends through the new listener
    }

    [Fact]
    public void A_failing_handler_closes_the_side_in_order_and_reports_why()
    {
        var (side, _, channel, listener) = Start();
        Bound(side, listener);
        channel.ExpectMsg<SideBound>();
        Watch(side);
        listener.Send(side, new Udp.Received(null!, Client)); // malformed: no payload
        Assert.Equal(Side.Left, channel.ExpectMsg<SideFailed>().Side);
        listener.ExpectMsg<Udp.Unbind>();
        listener.Reply(Udp.Unbound.Instance);
        channel.ExpectMsg<SideClosed>();
        ExpectTerminated(side);
    }
}

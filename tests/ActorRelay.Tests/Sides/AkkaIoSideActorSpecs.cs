using System.Net;
using Akka.Actor;
using Akka.IO;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using ActorRelay.Sides;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Sides;

/// <summary>The akka-io side against a probe that stands in for the Akka.IO UDP manager and listener.</summary>
public sealed class AkkaIoSideActorSpecs(ITestOutputHelper output) : TestKit(ActorRelay.Settings.RelaySettings.DefaultConfig(), output: output)
{
    private static readonly IPEndPoint Local = new(IPAddress.Loopback, 4700);
    private static readonly IPEndPoint Client = new(IPAddress.Parse("198.51.100.10"), 40000);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(3);

    private SideSpec Spec(Side side = Side.Left) =>
        new("ch", side, Local, ActorRelay.Latching.LatchPolicy.Default, 1500, 0, 0, RelayClock.System);

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

    private static void Bound(IActorRef side, TestProbe listener) => listener.Send(side, new Udp.Bound(Local));

    /// <summary>A sibling data path that has latched <paramref name="at"/>, with a probe as its actor.</summary>
    private AkkaIoSideActor.Path LatchedSibling(TestProbe siblingActor, IPEndPoint at)
    {
        var path = new AkkaIoSideActor.Path(Spec(Side.Right), CreateTestProbe().Ref, siblingActor.Ref);
        path.Admit(new byte[12], PacketSource.From(at), default); // latches; dropped itself (its own peer is unknown)
        Assert.NotNull(path.Target);
        return path;
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
    public void Received_datagrams_latch_and_go_to_the_sibling_which_sends_them_from_its_own_socket()
    {
        var (side, _, channel, listener) = Start();
        Bound(side, listener);
        var bound = channel.ExpectMsg<SideBound>();
        Assert.Equal(Local, bound.Local);
        var siblingActor = CreateTestProbe();
        var sibling = LatchedSibling(siblingActor, new IPEndPoint(IPAddress.Parse("203.0.113.20"), 50000));
        side.Tell(new ConnectSibling(sibling));

        var data = ByteString.FromBytes(new byte[] { 0x80, 0, 0, 1 });
        listener.Send(side, new Udp.Received(data, Client));
        var latched = channel.ExpectMsg<SideLatchChanged>();
        Assert.Equal(Client, latched.Current);
        var payload = siblingActor.ExpectMsg<SiblingPayload>();
        Assert.Equal(data, payload.Data);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.20"), 50000), payload.Target);

        // what the sibling relays to this side leaves through this side's listener, to the latched client
        side.Tell(new SiblingPayload(data, Client));
        var send = listener.ExpectMsg<Udp.Send>();
        Assert.Equal(Client, send.Target);
        Assert.Equal(data, send.Payload);
    }

    [Fact]
    public void A_target_of_another_family_is_dropped_before_it_can_crash_the_listener()
    {
        var (side, _, channel, listener) = Start();
        Bound(side, listener); // an IPv4 socket
        var bound = channel.ExpectMsg<SideBound>();
        side.Tell(new ConnectSibling(LatchedSibling(CreateTestProbe(), Client)));
        side.Tell(new SiblingPayload(ByteString.FromBytes(new byte[4]), new IPEndPoint(IPAddress.Parse("2001:db8::1"), 5000)));
        listener.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        AwaitAssert(() => Assert.Equal(1, bound.DataPath.Counters.Dropped(DropReason.SendFailed)), Wait);
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
        channel.ExpectMsg<SideClosed>(TimeSpan.FromSeconds(6));
        ExpectTerminated(side);
    }

    [Fact]
    public void A_listener_that_dies_is_replaced_on_the_same_port()
    {
        var (side, manager, channel, listener) = Start();
        Bound(side, listener);
        channel.ExpectMsg<SideBound>();
        side.Tell(new ConnectSibling(LatchedSibling(CreateTestProbe(), Client)));
        Sys.Stop(listener.Ref); // as after a failed send restarted it and its re-bind failed
        var rebind = manager.ExpectMsg<Udp.Bind>();
        Assert.Equal(Local, rebind.LocalAddress);
        var second = CreateTestProbe();
        second.Send(side, new Udp.Bound(Local));
        channel.ExpectMsg<SideRecovered>();
        side.Tell(new SiblingPayload(ByteString.FromBytes(new byte[4]), Client));
        Assert.Equal(Client, second.ExpectMsg<Udp.Send>().Target);
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

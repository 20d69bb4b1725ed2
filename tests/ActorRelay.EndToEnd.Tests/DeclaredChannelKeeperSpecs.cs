using Akka.Actor;
using Akka.TestKit.Xunit2;
using ActorRelay.NodeProcess;
using ActorRelay.Protocol;
using Xunit;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>The node process's keeper of declared channels, against a probe in the node actor's place.</summary>
public sealed class DeclaredChannelKeeperSpecs : TestKit
{
    private static readonly DeclaredChannel Lobby = new("lobby", 20000, 20001);
    private static readonly DeclaredChannel Timed = new("timed", 20002, 20003, LatchMode.Rtp, SetupTimeout: TimeSpan.FromSeconds(1));
    private static readonly ReopenBackoff Fast = new(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200));

    private static ChannelClosed Closed(string id, CloseReason reason)
    {
        var side = new SideSnapshot(Side.Left, new RelayEndpoint("127.0.0.1", 20000), null, 0, 0, 0, 0, new Dictionary<DropReason, long>(), 0, null);
        return new ChannelClosed(id, reason, reason.ToString(), new ChannelSnapshot(id, ChannelState.Closing, LatchMode.First,
            DateTimeOffset.UtcNow, side, side with { Side = Side.Right }));
    }

    private ChannelOpened Opened(DeclaredChannel c) =>
        new(c.Id, new RelayEndpoint("127.0.0.1", c.Left), new RelayEndpoint("127.0.0.1", c.Right), TestActor);

    /// <summary>A keeper of <paramref name="channels"/> whose opens the node probe answered: every channel open.</summary>
    private (IActorRef Keeper, Akka.TestKit.TestProbe Node) Started(params DeclaredChannel[] channels)
    {
        var node = CreateTestProbe();
        var keeper = Sys.ActorOf(DeclaredChannelKeeper.Props(node, channels, Fast));
        keeper.Tell(OpenDeclaredChannels.Instance, TestActor);
        foreach (var c in channels)
        {
            var open = node.ExpectMsg<OpenChannel>();
            Assert.Equal(c.Request(keeper), open);
            node.Reply(Opened(c));
        }
        Assert.Equal(channels.Length, ExpectMsg<DeclaredChannelsOpened>().Count);
        return (keeper, node);
    }

    [Fact]
    public void Opens_every_declared_channel_subscribed_and_without_timeouts_the_declaration_does_not_set()
    {
        var (keeper, _) = Started(Lobby, Timed);
        var lobby = Lobby.Request(keeper);
        Assert.Equal(new SideRequest(20000), lobby.Left);
        Assert.Equal(new SideRequest(20001), lobby.Right);
        Assert.Equal(new ChannelOptions(null, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero), lobby.Options);
        Assert.Equal(keeper, lobby.Subscriber);
        Assert.True(lobby.SubscribeOpener);
        Assert.Equal(new ChannelOptions(LatchMode.Rtp, TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.Zero), Timed.Request(keeper).Options);
    }

    [Fact]
    public void A_channel_that_cannot_open_at_start_fails_the_start_with_the_node_s_message()
    {
        var node = CreateTestProbe();
        var keeper = Sys.ActorOf(DeclaredChannelKeeper.Props(node, [Lobby], Fast));
        keeper.Tell(OpenDeclaredChannels.Instance, TestActor);
        node.ExpectMsg<OpenChannel>();
        node.Reply(new OpenRejected("lobby", RejectReason.BindFailed, "Failed to bind on port 20001: Address already in use"));
        var failed = ExpectMsg<DeclaredChannelFailed>();
        Assert.Equal("Failed to bind on port 20001: Address already in use", failed.Message);
        node.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // no retry: the process stops
    }

    [Theory]
    [InlineData(CloseReason.SetupTimeout)]
    [InlineData(CloseReason.IdleTimeout)]
    [InlineData(CloseReason.MaxLifetime)]
    [InlineData(CloseReason.SideFailed)]
    [InlineData(CloseReason.Requested)]
    [InlineData(CloseReason.OpenerLost)]
    public void A_channel_that_closes_for_any_reason_but_the_node_stopping_is_opened_again_on_its_ports(CloseReason reason)
    {
        var (keeper, node) = Started(Lobby, Timed);
        keeper.Tell(Closed("timed", reason));
        Assert.Equal(Timed.Request(keeper), node.ExpectMsg<OpenChannel>());
        node.Reply(Opened(Timed));
        keeper.Tell(Closed("timed", reason)); // and again: it is kept for as long as the node runs
        Assert.Equal(Timed.Request(keeper), node.ExpectMsg<OpenChannel>());
    }

    [Fact]
    public void A_reopen_that_is_rejected_is_tried_again_after_the_backoff_until_it_opens()
    {
        var (keeper, node) = Started(Lobby);
        keeper.Tell(Closed("lobby", CloseReason.SideFailed));
        node.ExpectMsg<OpenChannel>();
        node.Reply(new OpenRejected("lobby", RejectReason.BindFailed, "Failed to bind on port 20000: Address already in use"));
        node.ExpectMsg<OpenChannel>(TimeSpan.FromSeconds(3));
        node.Reply(new OpenRejected("lobby", RejectReason.BindFailed, "Failed to bind on port 20000: Address already in use"));
        node.ExpectMsg<OpenChannel>(TimeSpan.FromSeconds(3));
        node.Reply(Opened(Lobby));
        node.ExpectNoMsg(TimeSpan.FromMilliseconds(400)); // open again: no more attempts
        keeper.Tell(Closed("lobby", CloseReason.IdleTimeout));
        node.ExpectMsg<OpenChannel>(); // and kept again afterwards
    }

    [Fact]
    public void Nothing_is_reopened_once_the_node_stops()
    {
        var (keeper, node) = Started(Lobby, Timed);
        keeper.Tell(Closed("lobby", CloseReason.NodeStopping));
        keeper.Tell(Closed("timed", CloseReason.SetupTimeout)); // closing while the node drains
        node.ExpectNoMsg(TimeSpan.FromMilliseconds(400));
    }

    [Fact]
    public void A_reopen_the_node_refuses_because_it_is_stopping_is_not_tried_again()
    {
        var (keeper, node) = Started(Lobby);
        keeper.Tell(Closed("lobby", CloseReason.SideFailed));
        node.ExpectMsg<OpenChannel>();
        node.Reply(new OpenRejected("lobby", RejectReason.ShuttingDown, "the node is stopping"));
        node.ExpectNoMsg(TimeSpan.FromMilliseconds(600));
    }
}

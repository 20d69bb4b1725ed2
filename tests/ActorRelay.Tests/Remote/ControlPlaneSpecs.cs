using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using ActorRelay.Control;
using ActorRelay.Node;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Remote;

/// <summary>
/// What a supervisor can trust over Akka.Remote, and what a stranger cannot do. The relay node runs in its own
/// ActorSystem (configured as the node process is: only the relay's serializer reads remote input); this TestKit's
/// system is the local admin side that watches it; supervisors and strangers are further systems on loopback.
/// </summary>
public sealed class ControlPlaneSpecs : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly (int Min, int Max) _ports = TestPorts.Block();
    private readonly ActorSystem _relay;
    private readonly IActorRef _node;
    private readonly List<ActorSystem> _others = new();

    private static Config Remote(string extra = "") => ConfigurationFactory.ParseString($@"
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = 0
        akka.remote.watch-failure-detector.acceptable-heartbeat-pause = 3s
        {extra}");

    public ControlPlaneSpecs(ITestOutputHelper output) : base(Remote().WithFallback(RelayProtocolSerializer.Config), "admin", output)
    {
        var config = Remote("""
                relay.control.allow = ["sip-server@127.0.0.1", "other-server@127.0.0.1", "stranger@127.0.0.1"]
                relay.control.administrators = ["admin@127.0.0.1"]
                relay.control.opener-lost-grace = 4s
                """)
            .WithFallback(RelayProtocolSerializer.NodeOnlyConfig).WithFallback(RelaySettings.DefaultConfig());
        _relay = ActorSystem.Create("actor-relay", config);
        var settings = RelaySettings.From(config) with { PortMin = _ports.Min, PortMax = _ports.Max };
        _node = _relay.ActorOf(RelayNodeActor.Props(settings), "relay");
    }

    protected override void AfterAll()
    {
        foreach (var s in _others) s.Terminate().Wait(Wait);
        _relay.Terminate().Wait(Wait);
        base.AfterAll();
    }

    private string NodePath => $"{((ExtendedActorSystem)_relay).Provider.DefaultAddress}/user/relay";

    /// <summary>Another ActorSystem on loopback: a supervisor (with the relay's serializer) or not.</summary>
    private ActorSystem StartSystem(string name, bool serializer = true)
    {
        var config = Remote();
        var system = ActorSystem.Create(name, serializer ? config.WithFallback(RelayProtocolSerializer.Config) : config);
        _others.Add(system);
        return system;
    }

    private static Task<IActorRef> NodeFrom(ActorSystem system, string path) => system.ActorSelection(path).ResolveOne(Wait);

    private async Task<IActorRef> AdminNode() => await NodeFrom(Sys, NodePath);

    // ---- the relay cluster's messages are for relay peers only ---------------------------------------

    [Fact]
    public async Task A_supervisor_that_is_no_relay_peer_cannot_place_locate_or_list_for_another()
    {
        // an allowed supervisor, but not a member of a relay cluster: it must not open channels in another's name
        var supervisor = StartSystem("sip-server");
        var other = StartSystem("other-server");
        var node = await NodeFrom(supervisor, NodePath);
        var victim = new TestProbe(other, new XunitAssertions());
        var placed = await node.Ask<object>(new PlaceChannel(new OpenChannel("forged-1"), victim.Ref), Wait);
        Assert.Equal(RejectReason.NotAuthorized, Assert.IsType<OpenRejected>(placed).Reason);
        Assert.Equal(RejectReason.NotAuthorized, Assert.IsType<CommandRejected>(await node.Ask<object>(new LocateChannel("forged-1"), Wait)).Reason);
        Assert.Equal(RejectReason.NotAuthorized, Assert.IsType<CommandRejected>(await node.Ask<object>(new ListChannelsFor(victim.Ref), Wait)).Reason);
        Assert.Empty((await _node.Ask<ChannelList>(ListChannels.Instance, Wait)).Channels); // nothing was opened
    }

    // ---- events reach a real subscriber -----------------------------------------------------------

    [Fact]
    public async Task An_ask_opened_channel_sends_its_events_to_the_named_subscriber_and_a_retry_subscribes_the_retrier()
    {
        var supervisor = StartSystem("sip-server");
        var node = await NodeFrom(supervisor, NodePath);
        var first = new TestProbe(supervisor, new XunitAssertions());
        var second = new TestProbe(supervisor, new XunitAssertions());
        var opened = await node.Ask<ChannelOpened>(new OpenChannel("call-1", Subscriber: first.Ref), Wait);
        // the supervisor timed out and retried with another listener: same reply, both hear the events
        Assert.Equal(opened, await node.Ask<ChannelOpened>(new OpenChannel("call-1", Subscriber: second.Ref), Wait));

        using var a = new UdpPeer();
        a.SendTo(new RelayEndpoint("127.0.0.1", opened.Left.Port), [1]);
        Assert.Equal(Side.Left, (await first.ExpectMsgAsync<SideLatched>(Wait)).Side);
        Assert.Equal(Side.Left, (await second.ExpectMsgAsync<SideLatched>(Wait)).Side);
        Assert.IsType<ChannelClosed>(await node.Ask<object>(new CloseChannel("call-1"), Wait));
        await first.FishForMessageAsync<ChannelClosed>(_ => true, Wait);
        await second.FishForMessageAsync<ChannelClosed>(_ => true, Wait);
    }

    // ---- strangers ----------------------------------------------------------------------------------

    [Fact]
    public async Task A_system_outside_the_allow_list_is_refused_everything()
    {
        var intruder = StartSystem("intruder");
        var node = await NodeFrom(intruder, NodePath);
        var rejected = await node.Ask<OpenRejected>(new OpenChannel("mine"), Wait);
        Assert.Equal(RejectReason.NotAuthorized, rejected.Reason);
        Assert.Contains("relay.control.allow", rejected.Message);
        foreach (var command in new object[] { new GetChannel("x"), ListChannels.Instance, GetNodeStatus.Instance, new CloseChannel("x") })
            Assert.Equal(RejectReason.NotAuthorized, (await node.Ask<CommandRejected>(command, Wait)).Reason);
        var status = await (await AdminNode()).Ask<NodeStatus>(GetNodeStatus.Instance, Wait);
        Assert.Equal(0, status.ChannelsOpen);
        Assert.Equal(5, status.RejectionsByReason[RejectReason.NotAuthorized]);
    }

    [Fact]
    public async Task A_supervisor_cannot_touch_another_supervisors_channels_nor_use_privileged_commands()
    {
        var owner = StartSystem("sip-server");
        var other = StartSystem("other-server");
        var ownerNode = await NodeFrom(owner, NodePath);
        var otherNode = await NodeFrom(other, NodePath);
        var opened = await ownerNode.Ask<ChannelOpened>(new OpenChannel("owned", SubscribeOpener: false), Wait);

        foreach (var command in new object[] { new CloseChannel("owned"), new GetChannel("owned"), new ResignalSide("owned", Side.Left),
                     new Subscribe("owned", otherNode), new Unsubscribe("owned", otherNode), DrainNode.Instance,
                     new GetRuntimeStats(CollectGarbage: true), new Subscribe(null, otherNode) })
            Assert.Equal(RejectReason.NotAuthorized, (await otherNode.Ask<CommandRejected>(command, Wait)).Reason);
        Assert.Equal(RejectReason.Conflict, (await otherNode.Ask<OpenRejected>(new OpenChannel("owned"), Wait)).Reason);
        Assert.Empty((await otherNode.Ask<ChannelList>(ListChannels.Instance, Wait)).Channels);     // not its channels
        Assert.IsType<RuntimeStats>(await otherNode.Ask<object>(GetRuntimeStats.Instance, Wait));   // not privileged
        Assert.Equal("owned", Assert.Single((await ownerNode.Ask<ChannelList>(ListChannels.Instance, Wait)).Channels).ChannelId);
        Assert.Equal(opened.Left, (await ownerNode.Ask<ChannelSnapshot>(new GetChannel("owned"), Wait)).Left.Local);
        // an administrator may act on any channel
        Assert.IsType<ChannelClosed>(await (await AdminNode()).Ask<object>(new CloseChannel("owned"), Wait));
    }

    [Fact]
    public async Task Forged_events_are_refused_counted_and_never_reach_subscribers()
    {
        var admin = await AdminNode();
        var watcher = CreateTestProbe();
        Assert.Equal(new Subscribed(null), await admin.Ask<object>(new Subscribe(null, watcher.Ref), Wait)); // an administrator
        var owner = StartSystem("sip-server");
        var ownerNode = await NodeFrom(owner, NodePath);
        await ownerNode.Ask<ChannelOpened>(new OpenChannel("victim", SubscribeOpener: false), Wait);

        var stranger = StartSystem("stranger");
        var node = await NodeFrom(stranger, NodePath);
        var forged = new object[]
        {
            new SideLatched("victim", Side.Left, new RelayEndpoint("203.0.113.66", 4000)),
            new ChannelClosed("victim", CloseReason.Requested, "forged", new ChannelSnapshot("victim", ChannelState.Closing,
                LatchMode.First, DateTimeOffset.UnixEpoch, Empty(Side.Left), Empty(Side.Right))),
        };
        foreach (var e in forged) Assert.Equal(RejectReason.NotAuthorized, (await node.Ask<CommandRejected>(e, Wait)).Reason);
        var status = await admin.Ask<NodeStatus>(GetNodeStatus.Instance, Wait);
        Assert.Equal(2, status.ForeignEventsRefused);
        Assert.Equal(1, status.ChannelsOpen); // the victim's channel is untouched
        await watcher.ExpectNoMsgAsync(TimeSpan.Zero); // the node answered the stranger after refusing: nothing was forwarded
    }

    [Fact]
    public async Task A_supervisor_without_the_relay_serializer_gets_nothing_opened_and_the_node_counts_it_unreadable()
    {
        var careless = StartSystem("sip-server", serializer: false); // Akka's default JSON serializer carries the message
        var node = await NodeFrom(careless, NodePath);
        node.Tell(new OpenChannel("should-not-open"), ActorRefs.NoSender);
        node.Tell(new OpenChannel("should-not-open-either"), new TestProbe(careless, new XunitAssertions()).Ref);
        var admin = await AdminNode();
        await AwaitAssertAsync(async () =>
            Assert.Equal(2, (await admin.Ask<NodeStatus>(GetNodeStatus.Instance, Wait)).RejectionsByReason.GetValueOrDefault(RejectReason.Unreadable)), Wait);
        Assert.Equal(0, (await admin.Ask<NodeStatus>(GetNodeStatus.Instance, Wait)).ChannelsOpen);
    }

    private static SideSnapshot Empty(Side side) =>
        new(side, new RelayEndpoint("203.0.113.1", 10000), null, 0, 0, 0, 0, new Dictionary<DropReason, long>(), 0, null);

    // ---- orphans ------------------------------------------------------------------------------------

    [Fact]
    public async Task The_channels_of_a_supervisor_that_dies_close_after_the_grace_unless_it_comes_back()
    {
        var admin = await AdminNode();
        var watcher = CreateTestProbe();
        await admin.Ask<Subscribed>(new Subscribe(null, watcher.Ref), Wait);
        var doomed = StartSystem("sip-server");
        var node = await NodeFrom(doomed, NodePath);
        await node.Ask<ChannelOpened>(new OpenChannel("orphan"), Wait);   // an Ask: its opener is gone at once,
        await node.Ask<ChannelOpened>(new OpenChannel("rescued"), Wait);  // its system stays: no orphan yet
        Assert.Equal(2, (await admin.Ask<NodeStatus>(GetNodeStatus.Instance, Wait)).ChannelsOpen);

        await doomed.Terminate(); // as if killed: the node's death watch reports its system gone
        var restarted = StartSystem("sip-server"); // the same supervisor again (another port), before the grace is over
        var again = await NodeFrom(restarted, NodePath);
        var listener = new TestProbe(restarted, new XunitAssertions());
        Assert.Equal(new Subscribed("rescued"), await again.Ask<object>(new Subscribe("rescued", listener.Ref), Wait));

        var closed = await watcher.FishForMessageAsync<ChannelClosed>(_ => true, Wait);
        Assert.Equal(("orphan", CloseReason.OpenerLost), (closed.ChannelId, closed.Reason));
        // the rescued channel outlives the grace (4 s: long enough for a loaded machine to start the supervisor again) by far: it is its new owner's
        await watcher.ExpectNoMsgAsync(TimeSpan.FromSeconds(2));
        Assert.Equal(ChannelState.Open, (await again.Ask<ChannelSnapshot>(new GetChannel("rescued"), Wait)).State);
    }

    // ---- advertised address --------------------------------------------------------------------------

    [SkippableFact]
    public async Task A_node_bound_to_every_interface_advertises_an_address_clients_can_use()
    {
        var supervisor = StartSystem("sip-server");
        var node = await NodeFrom(supervisor, NodePath);
        var opened = await node.Ask<ChannelOpened>(new OpenChannel("sdp", SubscribeOpener: false), Wait);
        var address = IPAddress.Parse(opened.Left.Address);
        Assert.Equal(HostAddresses.Primary(), address);
        Assert.False(HostAddresses.IsUnspecified(address));
        Skip.If(IPAddress.IsLoopback(address), "this host has no address but loopback");
        using var a = new UdpPeer(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? address : IPAddress.IPv6Loopback);
        using var b = new UdpPeer(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? address : IPAddress.IPv6Loopback);
        a.SendTo(new IPEndPoint(address, opened.Left.Port), [1]);
        await AwaitAssertAsync(async () => Assert.NotNull((await node.Ask<ChannelSnapshot>(new GetChannel("sdp"), Wait)).Left.Latched), Wait);
        b.SendTo(new IPEndPoint(address, opened.Right.Port), [2]);
        Assert.Equal([2], await a.ExpectAsync(Wait));
    }
}

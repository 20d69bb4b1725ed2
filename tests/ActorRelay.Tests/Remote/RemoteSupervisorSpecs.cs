using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ActorRelay.Node;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Remote;

/// <summary>
/// The relay node in one ActorSystem, the supervisor in a second one, talking over Akka.Remote (TCP on
/// loopback): every protocol message crosses the wire and arrives equal to what was sent.
/// </summary>
public sealed class RemoteSupervisorSpecs : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly (int Min, int Max) _ports = TestPorts.Block();
    private readonly ActorSystem _relaySystem;
    private readonly IActorRef _node;
    private readonly ManualRelayClock _clock = new();

    private static Config Remote(string extra = "") => ConfigurationFactory.ParseString($@"
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = 0
        {extra}");

    public RemoteSupervisorSpecs(ITestOutputHelper output) : base(Remote().WithFallback(RelayProtocolSerializer.Config), "supervisor", output)
    {
        // the supervisor here is also an administrator: it subscribes to every channel
        var relayConfig = Remote("relay.control.administrators = [\"127.0.0.1\"]").WithFallback(RelaySettings.DefaultConfig());
        _relaySystem = ActorSystem.Create("relay-node", relayConfig);
        var settings = RelaySettings.From(relayConfig) with { PortMin = _ports.Min, PortMax = _ports.Max, BindAddress = IPAddress.Loopback };
        _node = _relaySystem.ActorOf(RelayNodeActor.Props(settings, _clock), "relay");
    }

    protected override void AfterAll()
    {
        _relaySystem.Terminate().Wait(Wait);
        base.AfterAll();
    }

    private async Task<IActorRef> RemoteNodeAsync()
    {
        var address = ((ExtendedActorSystem)_relaySystem).Provider.DefaultAddress;
        return await Sys.ActorSelection($"{address}/user/relay").ResolveOne(Wait);
    }

    [Fact]
    public async Task Supervisor_in_another_system_opens_watches_queries_and_closes_a_channel()
    {
        var node = await RemoteNodeAsync();
        Assert.True(node.Path.Address.HasGlobalScope);

        var options = new ChannelOptions(LatchMode.First, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(20), TimeSpan.FromMinutes(5));
        node.Tell(new OpenChannel("remote-1", Options: options), TestActor);
        var opened = await ExpectMsgAsync<ChannelOpened>(Wait);
        Assert.Equal("remote-1", opened.ChannelId);
        Assert.Equal("127.0.0.1", opened.Left.Address);
        Assert.InRange(opened.Left.Port, _ports.Min, _ports.Max);
        Assert.True(opened.Channel.Path.Address.HasGlobalScope);
        Watch(opened.Channel);

        // idempotent retry crosses the wire too: the same reply
        Assert.Equal(opened, await node.Ask<ChannelOpened>(new OpenChannel("remote-1", Options: options), Wait));

        using var a = new UdpPeer();
        using var b = new UdpPeer();
        a.SendTo(opened.Left, "first"u8.ToArray());
        var latchedLeft = await ExpectMsgAsync<SideLatched>(Wait);
        Assert.Equal(new SideLatched("remote-1", Side.Left, new RelayEndpoint("127.0.0.1", a.Local.Port)), latchedLeft);
        var dropped = await ExpectMsgAsync<PacketsDropped>(Wait);
        Assert.Equal(1, dropped.SinceLast[DropReason.PeerNotLatched]);
        Assert.Equal(1, dropped.Total[DropReason.PeerNotLatched]);
        b.SendTo(opened.Right, "second"u8.ToArray());
        Assert.Equal("second"u8.ToArray(), await a.ExpectAsync(Wait));
        Assert.Equal(new SideLatched("remote-1", Side.Right, new RelayEndpoint("127.0.0.1", b.Local.Port)), await ExpectMsgAsync<SideLatched>(Wait));

        var snapshot = await node.Ask<ChannelSnapshot>(new GetChannel("remote-1"), Wait);
        Assert.Equal(ChannelState.Open, snapshot.State);
        Assert.Equal(1, snapshot.Left.Dropped[DropReason.PeerNotLatched]);
        Assert.Equal(1, snapshot.Right.PacketsForwarded);
        Assert.NotNull(snapshot.Right.LastPacketAt);
        // the channel ref answers directly, too
        Assert.Equal("remote-1", (await opened.Channel.Ask<ChannelSnapshot>(new GetChannel("remote-1"), Wait)).ChannelId);

        var list = await node.Ask<ChannelList>(ListChannels.Instance, Wait);
        Assert.Equal(new ChannelSummary("remote-1", ChannelState.Open, opened.Left, opened.Right, opened.Channel), Assert.Single(list.Channels));

        var status = await node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait);
        Assert.Equal(1, status.ChannelsOpen);
        Assert.Equal("socket", status.Transport);

        var closed = await node.Ask<ChannelClosed>(new CloseChannel("remote-1"), Wait);
        Assert.Equal(CloseReason.Requested, closed.Reason);
        Assert.Equal(2, closed.Final.Left.PacketsReceived + closed.Final.Right.PacketsReceived);
        Assert.Equal(closed, await ExpectMsgAsync<ChannelClosed>(Wait) with { Final = closed.Final });
        await ExpectTerminatedAsync(opened.Channel, Wait);

        var after = await node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait);
        Assert.Equal(1, after.ClosedByReason[CloseReason.Requested]);
        Assert.Equal(after.PortsTotal, after.PortsFree);
    }

    [Fact]
    public async Task Rejections_and_subscriptions_cross_the_wire()
    {
        var node = await RemoteNodeAsync();
        var rejected = await node.Ask<OpenRejected>(new OpenChannel("bad", new SideRequest(0)), Wait);
        Assert.Equal(new OpenRejected("bad", RejectReason.PortOutOfRange, rejected.Message), rejected);
        Assert.Equal(new ChannelNotFound("nope"), await node.Ask<ChannelNotFound>(new CloseChannel("nope"), Wait));
        Assert.Equal(RejectReason.InvalidRequest, (await node.Ask<CommandRejected>(new UnknownCommand("x"), Wait)).Reason);

        var watcher = CreateTestProbe();
        Assert.Equal(new Subscribed(null), await node.Ask<Subscribed>(new Subscribe(null, watcher.Ref), Wait));
        node.Tell(new OpenChannel("timed", Options: new ChannelOptions(IdleTimeout: TimeSpan.FromSeconds(20)), SubscribeOpener: false), TestActor);
        var opened = await ExpectMsgAsync<ChannelOpened>(Wait);
        _clock.Advance(TimeSpan.FromSeconds(21)); // the relay's clock; then the channel checks its deadlines, as its timer would
        (await _relaySystem.ActorSelection(opened.Channel.Path.ToStringWithoutAddress()).ResolveOne(Wait))
            .Tell(ActorRelay.Channels.ChannelActor.CheckDeadlines.Instance);
        var timedOut = await watcher.ExpectMsgAsync<ChannelTimedOut>(Wait);
        Assert.Equal(new ChannelTimedOut("timed", CloseReason.IdleTimeout, TimeSpan.FromSeconds(20)), timedOut);
        Assert.Equal(CloseReason.IdleTimeout, (await watcher.ExpectMsgAsync<ChannelClosed>(Wait)).Reason);
        Assert.Equal(new Unsubscribed(null), await node.Ask<Unsubscribed>(new Unsubscribe(null, watcher.Ref), Wait));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    /// <summary>A message type the node does not know.</summary>
    public sealed record UnknownCommand(string What);
}

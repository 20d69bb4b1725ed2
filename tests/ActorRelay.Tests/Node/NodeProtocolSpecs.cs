using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ActorRelay.Protocol;
using ActorRelay.Tests.Latching;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Node;

/// <summary>The node's protocol promises that do not depend on the data path (run on the default one).</summary>
public sealed class NodeProtocolSpecs(ITestOutputHelper output)
    : RelayNodeSpecsBase("socket", output, "relay.stats-interval = 2s\nrelay.max-queue-delay = 0", channelLimit: 3)
{
    [Fact]
    public async Task The_quality_of_each_sides_rtp_stream_is_in_the_snapshot_and_in_the_final_counters()
    {
        var ch = await OpenAsync("quality", options: new ChannelOptions(RtpMaps: ["96 opus/48000/2"]));
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        b.SendTo(ch.Right, LatchPolicyMatrixTests.Rtp(1, 0xBB)); // b is there first
        // a sends 100 packets of a stream, 10 of them lost on the way (sequence numbers skipped), one twice (no
        // overload shedding here: a loaded machine must not make the burst look late)
        for (ushort seq = 1; seq <= 100; seq++)
        {
            if (seq % 10 == 0) continue;
            a.SendTo(ch.Left, LatchPolicyMatrixTests.Rtp(seq, 0xAA, pt: 96));
            if (seq == 55) a.SendTo(ch.Left, LatchPolicyMatrixTests.Rtp(seq, 0xAA, pt: 96));
        }
        a.SendTo(ch.Left, LatchPolicyMatrixTests.Rtp(101, 0xAA, pt: 96));
        StreamQuality? left = null;
        await AwaitAssertAsync(async () =>
        {
            var snap = (await Node.Ask<ChannelSnapshot>(new GetChannel("quality"), Wait)).Left;
            left = snap.Quality;
            Assert.NotNull(left);
            // from the latch on (probation took 1-4) and RFC 3550's own start (the stream counts from its second packet)
            Assert.True(left!.PacketsExpected == 101 - 5 + 1, $"{left} received {snap.PacketsReceived} dropped {string.Join(",", snap.Dropped)}");
        }, Wait);
        Assert.Equal(0xAAu, left!.Ssrc);
        Assert.Equal(10, left.PacketsLost);
        Assert.True(left.Duplicates == 1, left.ToString());
        Assert.Equal(10.0 / 97, left.LossRatio, 6);
        Assert.Equal(48000, left.ClockRate);                 // from the call's rtpmap
        Assert.False(left.ClockRateAssumed);
        Assert.InRange(left.Mos, 1, 4.5);
        var closed = await Node.Ask<ChannelClosed>(new CloseChannel("quality"), Wait);
        Assert.Equal(10, closed.Final.Left.Quality!.PacketsLost);
        Assert.Equal(0xBBu, closed.Final.Right.Quality?.Ssrc ?? 0xBBu); // one packet: maybe still in probation
    }

    [Fact]
    public async Task Beyond_its_channel_limit_the_node_rejects_with_capacity()
    {
        for (var i = 0; i < 3; i++) await OpenAsync($"c{i}");
        var rejected = Assert.IsType<OpenRejected>(await Node.Ask<object>(new OpenChannel("c3"), Wait));
        Assert.Equal(RejectReason.Capacity, rejected.Reason);
        var status = await Node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait);
        Assert.Equal(3, status.Capacity);
        Assert.Equal(1, status.RejectionsByReason[RejectReason.Capacity]);
        Assert.IsType<ChannelClosed>(await Node.Ask<object>(new CloseChannel("c0"), Wait));
        await OpenAsync("c3"); // room again
    }

    [Fact]
    public async Task A_moved_latch_is_published_as_source_changed()
    {
        var ch = await OpenAsync("moves", options: new ChannelOptions(LatchMode: LatchMode.Follow));
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        using var a2 = new UdpPeer();
        await LatchBothAsync(ch, a, b);
        a2.SendTo(ch.Left, Payload("from a new port"));
        var changed = await FishForMessageAsync<SourceChanged>(_ => true, Wait);
        Assert.Equal(new SourceChanged("moves", Side.Left, new RelayEndpoint("127.0.0.1", a.Local.Port), new RelayEndpoint("127.0.0.1", a2.Local.Port)),
            changed);
    }

    [Fact]
    public async Task Drops_are_summarised_at_most_once_per_stats_interval()
    {
        var ch = await OpenAsync("flood");
        using var a = new UdpPeer();
        for (var i = 0; i < 50; i++) a.SendTo(ch.Left, Payload("nobody to relay to")); // right never latches: PeerNotLatched
        await AwaitAssertAsync(async () =>
            Assert.Equal(50, (await Node.Ask<ChannelSnapshot>(new GetChannel("flood"), Wait)).Left.PacketsReceived), Wait);
        var summary = await FishForMessageAsync<PacketsDropped>(_ => true, Wait);
        Assert.Equal(50, summary.SinceLast[DropReason.PeerNotLatched]); // the first latched the left side, and had nowhere to go either
        Assert.Equal(50, summary.Total[DropReason.PeerNotLatched]);
        // all 50 were counted before the interval ended, so no second summary follows
        ExpectNoMsg(Settings.StatsInterval + TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task A_subscriber_of_one_channel_hears_its_events_until_it_unsubscribes()
    {
        var ch = await OpenAsync("watched");
        var probe = CreateTestProbe();
        Assert.Equal(new Subscribed("watched"), await Node.Ask<object>(new Subscribe("watched", probe.Ref), Wait));
        using var a = new UdpPeer();
        a.SendTo(ch.Left, Payload("first"));
        Assert.Equal(Side.Left, (await probe.FishForMessageAsync<SideLatched>(_ => true, Wait)).Side);
        Assert.Equal(new Unsubscribed("watched"), await Node.Ask<object>(new Unsubscribe("watched", probe.Ref), Wait));
        using var b = new UdpPeer();
        b.SendTo(ch.Right, Payload("second"));
        await FishForMessageAsync<SideLatched>(l => l.Side == Side.Right, Wait); // the opener hears it; the node told
        while (probe.HasMessages)                                                 // the probe in the same breath, or not
            Assert.False(probe.ReceiveOne(TimeSpan.Zero) is SideLatched { Side: Side.Right }, "an unsubscribed probe heard the channel");
        Assert.IsType<ChannelNotFound>(await Node.Ask<object>(new Subscribe("nope", probe.Ref), Wait));
    }

    [Fact]
    public async Task An_opener_that_also_subscribed_node_wide_hears_each_event_once()
    {
        Assert.Equal(new Subscribed(null), await Node.Ask<object>(new Subscribe(null, TestActor), Wait));
        var ch = await OpenAsync("once");
        using var a = new UdpPeer();
        a.SendTo(ch.Left, Payload("latch"));
        await ExpectMsgAsync<SideLatched>(Wait);
        Node.Tell(new CloseChannel("once"), TestActor);
        var heard = new List<object>();
        while (heard.LastOrDefault() is not ChannelClosed) heard.Add(await ReceiveOneAsync(Wait) ?? throw new TimeoutException());
        Assert.IsType<ChannelNotFound>(await Node.Ask<object>(new GetChannel("once"), Wait));
        while (HasMessages) heard.Add(ReceiveOne(TimeSpan.Zero)!);
        // the close reply, the opener's event and the subscriber's event are one message; so is the drop summary
        Assert.Equal(1, heard.Count(m => m is ChannelClosed));
        Assert.True(heard.Count(m => m is PacketsDropped) <= 1, string.Join(", ", heard));
        Assert.All(heard, m => Assert.True(m is ChannelClosed or PacketsDropped or ChannelNotFound, m.ToString()));
    }

    [Fact]
    public async Task Probation_can_be_set_per_channel()
    {
        var ch = await OpenAsync("quick", options: new ChannelOptions(LatchMode: LatchMode.Rtp, Probation: 2));
        using var a = new UdpPeer();
        a.SendTo(ch.Left, LatchPolicyMatrixTests.Rtp(10, 0xAA));
        a.SendTo(ch.Left, LatchPolicyMatrixTests.Rtp(11, 0xAA));
        Assert.Equal(Side.Left, (await FishForMessageAsync<SideLatched>(_ => true, Wait)).Side);
        var snap = await Node.Ask<ChannelSnapshot>(new GetChannel("quick"), Wait);
        Assert.Equal(1, snap.Left.Dropped[DropReason.Probation]); // the node's default (4) would have dropped 3
    }

    [Fact]
    public async Task The_learning_window_can_be_set_per_channel_and_closes_on_the_relay_clock()
    {
        var ch = await OpenAsync("window", options: new ChannelOptions(LearningWindow: TimeSpan.FromSeconds(1)));
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        using var a2 = new UdpPeer();
        await LatchBothAsync(ch, a, b);
        await Node.Ask<SideResignalled>(new ResignalSide("window", Side.Left), Wait);
        Clock.Advance(TimeSpan.FromSeconds(2)); // the re-signal's window is over before a2 sends
        a2.SendTo(ch.Left, Payload("too late"));
        a.SendTo(ch.Left, Payload("still a"));
        Assert.Equal("still a", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
        var snap = await Node.Ask<ChannelSnapshot>(new GetChannel("window"), Wait);
        Assert.Equal(a.Local.Port, snap.Left.Latched!.Port);
        Assert.Equal(1, snap.Left.Dropped[DropReason.ForeignSource]);
    }

    [Fact]
    public async Task A_retry_while_the_first_open_is_binding_gets_the_same_reply()
    {
        Node.Tell(new OpenChannel("twice", SubscribeOpener: false), TestActor);
        Node.Tell(new OpenChannel("twice", SubscribeOpener: false), TestActor); // the first is still binding
        var first = await ExpectMsgAsync<ChannelOpened>(Wait);
        Assert.Equal(first, await ExpectMsgAsync<ChannelOpened>(Wait));
        Assert.Equal(1, (await Node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait)).ChannelsOpened);
    }

    [Fact]
    public async Task A_retry_of_a_failed_open_gets_the_same_rejection()
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, Ports.Max));
        var request = new OpenChannel("doomed", new SideRequest(Ports.Max), SubscribeOpener: false);
        var first = Assert.IsType<OpenRejected>(await Node.Ask<object>(request, Wait));
        Assert.Equal(RejectReason.BindFailed, first.Reason);
        var retry = Assert.IsType<OpenRejected>(await Node.Ask<object>(request, Wait));
        Assert.Equal(first with { Message = retry.Message }, retry);
        Assert.Contains($"Failed to bind on port {Ports.Max}", retry.Message);
        await AwaitAssertAsync(async () =>
            Assert.Equal(0, (await Node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait)).ChannelsOpen), Wait);
    }
}

/// <summary>relay.ports.bind-attempts bounds how many busy pool ports a side skips.</summary>
public sealed class BindAttemptsSpecs(ITestOutputHelper output) : RelayNodeSpecsBase("socket", output, "relay.ports.bind-attempts = 1")
{
    [Fact]
    public async Task With_one_attempt_a_busy_pool_port_fails_the_open()
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, Ports.Min)); // the first port the pool hands out
        var rejected = Assert.IsType<OpenRejected>(await Node.Ask<object>(new OpenChannel("strict", SubscribeOpener: false), Wait));
        Assert.Equal(RejectReason.BindFailed, rejected.Reason);
        Assert.Contains($"Failed to bind on port {Ports.Min}", rejected.Message);
    }
}

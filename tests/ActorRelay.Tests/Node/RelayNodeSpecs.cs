using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ActorRelay.Hosting;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Node;

/// <summary>A node on loopback with its own port block, and helpers to open and latch channels.</summary>
public abstract class RelayNodeSpecsBase : TestKit
{
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    protected readonly (int Min, int Max) Ports = TestPorts.Block();
    protected readonly IActorRef Node;
    protected readonly RelaySettings Settings;
    /// <summary>The relay's clock: it moves only when a test says so (timeouts and learning windows are driven by it).</summary>
    protected readonly ManualRelayClock Clock = new();

    protected RelayNodeSpecsBase(string dataPath, ITestOutputHelper output, string extraConfig = "", int? channelLimit = null,
        ActorRelay.Metrics.RelayMetrics? metrics = null)
        : base(Config(dataPath, extraConfig), output: output)
    {
        Settings = RelaySettings.From(Sys.Settings.Config) with { PortMin = Ports.Min, PortMax = Ports.Max, BindAddress = IPAddress.Loopback };
        Node = Sys.ActorOf(ActorRelay.Node.RelayNodeActor.Props(Settings, Clock, channelLimit, metrics), "relay");
    }

    /// <summary>Moves the relay's clock on and has the channel check its deadlines now (what its timer does when due).</summary>
    protected void Elapse(ChannelOpened channel, TimeSpan by)
    {
        Clock.Advance(by);
        channel.Channel.Tell(ActorRelay.Channels.ChannelActor.CheckDeadlines.Instance);
    }

    private static Config Config(string dataPath, string extra) => DataPaths.Config(dataPath, extra);

    protected async Task<ChannelOpened> OpenAsync(string id, SideRequest? left = null, SideRequest? right = null, ChannelOptions? options = null)
    {
        // From TestActor, so the test receives the channel's events as the opener.
        Node.Tell(new OpenChannel(id, left, right, options), TestActor);
        var reply = await FishForMessageAsync<object>(m => m is ChannelOpened o && o.ChannelId == id || m is OpenRejected, Wait);
        return Assert.IsType<ChannelOpened>(reply);
    }

    protected static byte[] Payload(string text) => System.Text.Encoding.ASCII.GetBytes(text);

    /// <summary>Latches both sides: each client sends once, and media then flows both ways.</summary>
    protected async Task LatchBothAsync(ChannelOpened ch, UdpPeer a, UdpPeer b)
    {
        a.SendTo(ch.Left, Payload("hello-from-a"));
        await AwaitAssertAsync(async () =>
        {
            var snap = await Node.Ask<ChannelSnapshot>(new GetChannel(ch.ChannelId), Wait);
            Assert.NotNull(snap.Left.Latched);
        }, Wait);
        b.SendTo(ch.Right, Payload("hello-from-b"));
        Assert.Equal("hello-from-b", System.Text.Encoding.ASCII.GetString(await a.ExpectAsync(Wait)));
    }
}

/// <summary>
/// The node, its channels and sides over real UDP on loopback, run once per data path (the same suite
/// proves both implementations of the seam, and both engines of the socket transport).
/// </summary>
public abstract class RelayNodeSpecs(string dataPath, ITestOutputHelper output) : RelayNodeSpecsBase(dataPath, output)
{

    [Fact]
    public async Task Relays_both_ways_between_two_latched_clients()
    {
        var ch = await OpenAsync("call-1");
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        await LatchBothAsync(ch, a, b);

        a.SendTo(ch.Left, Payload("a->b"));
        Assert.Equal("a->b", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
        b.SendTo(ch.Right, Payload("b->a"));
        var back = await a.ReceiveAsync(Wait);
        Assert.Equal("b->a", System.Text.Encoding.ASCII.GetString(back!.Value.Data));
        // the reply leaves from the port the client sent to, or its NAT would drop it
        Assert.Equal(ch.Left.Port, back.Value.From.Port);

        // the data path counts a forwarded datagram once its send returned, which may be after the client read it
        await AwaitAssertAsync(async () =>
        {
            var snap = await Node.Ask<ChannelSnapshot>(new GetChannel("call-1"), Wait);
            Assert.Equal(a.Local.Port, snap.Left.Latched!.Port);
            Assert.Equal(b.Local.Port, snap.Right.Latched!.Port);
            Assert.Equal(2, snap.Left.PacketsReceived);
            Assert.Equal(1, snap.Left.PacketsForwarded);
            Assert.Equal(1, snap.Left.Dropped[DropReason.PeerNotLatched]);
        }, Wait);
    }

    [Fact]
    public async Task Opener_receives_latch_events_and_close_reply_with_final_counters()
    {
        var ch = await OpenAsync("call-ev");
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        await LatchBothAsync(ch, a, b);
        var latched = new[] { await ExpectMsgAsync<SideLatched>(Wait), await ExpectMsgAsync<SideLatched>(Wait) };
        Assert.Contains(latched, l => l.Side == Side.Left && l.Source.Port == a.Local.Port);
        Assert.Contains(latched, l => l.Side == Side.Right && l.Source.Port == b.Local.Port);
        await ExpectMsgAsync<PacketsDropped>(Wait); // a's first packet: right not latched yet

        Node.Tell(new CloseChannel("call-ev"), TestActor);
        var closed = await ExpectMsgAsync<ChannelClosed>(Wait);
        Assert.Equal(CloseReason.Requested, closed.Reason);
        Assert.Equal(1, closed.Final.Right.PacketsForwarded);
        Assert.IsType<ChannelNotFound>(await Node.Ask<object>(new GetChannel("call-ev"), Wait));
    }

    [Fact]
    public async Task First_policy_drops_and_counts_a_stranger_after_latching()
    {
        var ch = await OpenAsync("call-strict");
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        using var stranger = new UdpPeer();
        await LatchBothAsync(ch, a, b);

        stranger.SendTo(ch.Left, Payload("inject"));
        a.SendTo(ch.Left, Payload("genuine"));
        Assert.Equal("genuine", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
        b.SendTo(ch.Right, Payload("back")); // had the stranger taken the left latch, this would go to it
        Assert.Equal("back", System.Text.Encoding.ASCII.GetString(await a.ExpectAsync(Wait)));
        stranger.AssertNothingQueued();
        await AwaitAssertAsync(async () =>
        {
            var snap = await Node.Ask<ChannelSnapshot>(new GetChannel("call-strict"), Wait);
            Assert.Equal(1, snap.Left.Dropped.GetValueOrDefault(DropReason.ForeignSource));
            Assert.Equal(a.Local.Port, snap.Left.Latched!.Port);
        }, Wait);
    }

    [Fact]
    public async Task Follow_policy_relatches_on_every_packet_like_the_seed()
    {
        var ch = await OpenAsync("call-follow", options: new ChannelOptions(LatchMode: LatchMode.Follow));
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        using var a2 = new UdpPeer();
        await LatchBothAsync(ch, a, b);
        a2.SendTo(ch.Left, Payload("moved"));
        Assert.Equal("moved", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
        b.SendTo(ch.Right, Payload("to-new"));
        Assert.Equal("to-new", System.Text.Encoding.ASCII.GetString(await a2.ExpectAsync(Wait)));
    }

    [Fact]
    public async Task Datagrams_up_to_the_maximum_are_intact_and_larger_ones_dropped()
    {
        var ch = await OpenAsync("call-size");
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        await LatchBothAsync(ch, a, b);
        var max = Enumerable.Range(0, Settings.MaxDatagram).Select(i => (byte)i).ToArray();
        a.SendTo(ch.Left, max);
        Assert.Equal(max, await b.ExpectAsync(Wait));
        a.SendTo(ch.Left, new byte[Settings.MaxDatagram + 1]);
        a.SendTo(ch.Left, Payload("after"));
        Assert.Equal("after", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
        var snap = await Node.Ask<ChannelSnapshot>(new GetChannel("call-size"), Wait);
        Assert.Equal(1, snap.Left.Dropped.GetValueOrDefault(DropReason.Oversize));
    }

    [Fact]
    public async Task Fixed_ports_are_bound_and_a_second_claim_is_rejected()
    {
        var ch = await OpenAsync("fixed", new SideRequest(Ports.Max), new SideRequest(Ports.Max - 1));
        Assert.Equal(Ports.Max, ch.Left.Port);
        Assert.Equal(Ports.Max - 1, ch.Right.Port);
        var again = await Node.Ask<object>(new OpenChannel("fixed-2", new SideRequest(Ports.Max)), Wait);
        Assert.Equal(RejectReason.PortInUse, Assert.IsType<OpenRejected>(again).Reason);
        var bad = await Node.Ask<object>(new OpenChannel("bad", new SideRequest(70000)), Wait);
        Assert.Equal(RejectReason.PortOutOfRange, Assert.IsType<OpenRejected>(bad).Reason);
    }

    [Fact]
    public async Task Open_is_idempotent_by_id_and_conflicting_parameters_are_rejected()
    {
        var first = await OpenAsync("same");
        var second = await OpenAsync("same");
        Assert.Equal(first, second);
        var conflict = await Node.Ask<object>(new OpenChannel("same", Options: new ChannelOptions(LatchMode: LatchMode.Follow)), Wait);
        Assert.Equal(RejectReason.Conflict, Assert.IsType<OpenRejected>(conflict).Reason);
    }

    [Fact]
    public async Task A_port_used_by_another_program_is_skipped_or_rejected_with_a_reason()
    {
        using var squatter = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork,
            System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, Ports.Min));
        // pool allocation: the busy port is skipped
        var ch = await OpenAsync("skip");
        Assert.NotEqual(Ports.Min, ch.Left.Port);
        Assert.NotEqual(Ports.Min, ch.Right.Port);
        // a fixed port in use elsewhere: typed rejection with the seed's wording
        var reply = await Node.Ask<object>(new OpenChannel("busy", new SideRequest(Ports.Min)), Wait);
        var rejected = Assert.IsType<OpenRejected>(reply);
        Assert.Equal(RejectReason.BindFailed, rejected.Reason);
        Assert.Contains($"Failed to bind on port {Ports.Min}", rejected.Message);
        // and the rejected channel's other port went back to the pool
        await AwaitAssertAsync(async () =>
        {
            var status = await Node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait);
            Assert.Equal(1, status.ChannelsOpen);
            Assert.Equal(status.PortsTotal - 2, status.PortsFree);
        }, Wait);
    }

    [Fact]
    public async Task Several_pool_ports_held_by_other_programs_are_skipped()
    {
        // the first three pool ports are busy elsewhere: each side skips what it draws until it binds
        var squatters = Enumerable.Range(Ports.Min, 3).Select(p =>
        {
            var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, p));
            return s;
        }).ToList();
        try
        {
            var ch = await OpenAsync("skips");
            Assert.True(ch.Left.Port > Ports.Min + 2 && ch.Right.Port > Ports.Min + 2, $"{ch.Left.Port}/{ch.Right.Port}");
            var status = await Node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait);
            Assert.Equal(status.PortsTotal - 2, status.PortsFree); // the busy ones went back to the pool
        }
        finally
        {
            foreach (var s in squatters) s.Dispose();
        }
    }

    [Fact]
    public async Task Pool_exhaustion_is_a_typed_rejection_and_closing_frees_the_ports()
    {
        var opened = new List<ChannelOpened>();
        var size = Ports.Max - Ports.Min + 1;
        for (var i = 0; i < size / 2; i++) opened.Add(await OpenAsync($"c{i}"));
        var reply = await Node.Ask<object>(new OpenChannel("one-too-many"), Wait);
        Assert.Equal(RejectReason.PortsExhausted, Assert.IsType<OpenRejected>(reply).Reason);
        foreach (var c in opened) Assert.IsType<ChannelClosed>(await Node.Ask<object>(new CloseChannel(c.ChannelId), Wait));
        var status = await Node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait);
        Assert.Equal(status.PortsTotal, status.PortsFree);
        Assert.Equal(0, status.ChannelsOpen);
        Assert.Equal(size / 2, status.ClosedByReason[CloseReason.Requested]);
    }

    [Fact]
    public async Task Idle_channel_times_out_and_tells_its_subscribers()
    {
        var ch = await OpenAsync("idle", options: new ChannelOptions(IdleTimeout: TimeSpan.FromSeconds(60), SetupTimeout: TimeSpan.Zero));
        Elapse(ch, TimeSpan.FromSeconds(59));
        Assert.IsType<ChannelSnapshot>(await Node.Ask<object>(new GetChannel("idle"), Wait)); // not yet (the check came before the reply)
        Elapse(ch, TimeSpan.FromSeconds(2));
        var timedOut = await ExpectMsgAsync<ChannelTimedOut>(Wait);
        Assert.Equal(CloseReason.IdleTimeout, timedOut.Reason);
        Assert.Equal(CloseReason.IdleTimeout, (await ExpectMsgAsync<ChannelClosed>(Wait)).Reason);
    }

    [Fact]
    public async Task A_packet_on_either_side_restarts_the_idle_timeout()
    {
        var ch = await OpenAsync("busy", options: new ChannelOptions(IdleTimeout: TimeSpan.FromSeconds(60), SetupTimeout: TimeSpan.Zero));
        using var a = new UdpPeer();
        Elapse(ch, TimeSpan.FromSeconds(50));
        a.SendTo(ch.Left, Payload("alive"));
        await ExpectMsgAsync<SideLatched>(Wait);
        Elapse(ch, TimeSpan.FromSeconds(50)); // 100 s since open, 50 s since the packet
        Assert.Equal(ChannelState.Open, (await Node.Ask<ChannelSnapshot>(new GetChannel("busy"), Wait)).State);
        Elapse(ch, TimeSpan.FromSeconds(11));
        Assert.Equal(CloseReason.IdleTimeout, (await FishForMessageAsync<ChannelTimedOut>(_ => true, Wait)).Reason);
    }

    [Fact]
    public async Task Channel_not_latched_in_time_hits_the_setup_timeout()
    {
        var ch = await OpenAsync("setup", options: new ChannelOptions(SetupTimeout: TimeSpan.FromSeconds(30)));
        using var a = new UdpPeer();
        a.SendTo(ch.Left, Payload("only-one-side"));
        await ExpectMsgAsync<SideLatched>(Wait);
        Elapse(ch, TimeSpan.FromSeconds(31));
        var timedOut = await FishForMessageAsync<ChannelTimedOut>(_ => true, Wait);
        Assert.Equal(CloseReason.SetupTimeout, timedOut.Reason);
    }

    [Fact]
    public async Task Max_lifetime_closes_an_active_channel()
    {
        var ch = await OpenAsync("life", options: new ChannelOptions(MaxLifetime: TimeSpan.FromHours(4)));
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        await LatchBothAsync(ch, a, b);
        Clock.Advance(TimeSpan.FromHours(4) - TimeSpan.FromSeconds(1));
        a.SendTo(ch.Left, Payload("still talking")); // active: the idle timeout does not apply
        Assert.Equal("still talking", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
        Elapse(ch, TimeSpan.FromSeconds(2));
        var timedOut = await FishForMessageAsync<ChannelTimedOut>(_ => true, Wait);
        Assert.Equal(CloseReason.MaxLifetime, timedOut.Reason);
    }

    [Fact]
    public async Task Unknown_ids_and_bad_commands_get_typed_replies()
    {
        Assert.IsType<ChannelNotFound>(await Node.Ask<object>(new CloseChannel("nope"), Wait));
        Assert.IsType<ChannelNotFound>(await Node.Ask<object>(new GetChannel("nope"), Wait));
        Assert.Equal(RejectReason.InvalidRequest, Assert.IsType<OpenRejected>(await Node.Ask<object>(new OpenChannel(""), Wait)).Reason);
        Assert.IsType<CommandRejected>(await Node.Ask<object>("garbage", Wait));
        Assert.Equal(RejectReason.InvalidRequest, Assert.IsType<OpenRejected>(
            await Node.Ask<object>(new OpenChannel("x", new SideRequest(BindAddress: "not-an-ip")), Wait)).Reason);
    }

    [SkippableFact]
    public async Task Sides_of_one_channel_may_be_of_different_families()
    {
        Skip.IfNot(System.Net.Sockets.Socket.OSSupportsIPv6, "this host has no IPv6");
        var ch = await OpenAsync("mixed", new SideRequest(BindAddress: "127.0.0.1"), new SideRequest(BindAddress: "::1"));
        using var a = new UdpPeer(IPAddress.Loopback);
        using var b = new UdpPeer(IPAddress.IPv6Loopback);
        a.SendTo(ch.Left, Payload("v4 first"));
        await AwaitAssertAsync(async () =>
            Assert.NotNull((await Node.Ask<ChannelSnapshot>(new GetChannel("mixed"), Wait)).Left.Latched), Wait);
        b.SendTo(ch.Right, Payload("from v6"), IPAddress.IPv6Loopback);
        Assert.Equal("from v6", System.Text.Encoding.ASCII.GetString(await a.ExpectAsync(Wait)));
        a.SendTo(ch.Left, Payload("from v4"));
        Assert.Equal("from v4", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
        Assert.Equal("::1", ch.Right.Address);
    }

    [Fact]
    public async Task A_failed_side_closes_its_channel_with_a_reason_and_frees_both_ports()
    {
        var ch = await OpenAsync("fragile");
        var side = await Sys.ActorSelection("/user/relay/channel-*/left-*").ResolveOne(Wait);
        side.Tell(Kill.Instance); // the side throws ActorKilledException: the channel stops it
        var closed = await FishForMessageAsync<ChannelClosed>(_ => true, Wait);
        Assert.Equal(CloseReason.SideFailed, closed.Reason);
        await AwaitAssertAsync(async () =>
        {
            var status = await Node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait);
            Assert.Equal(status.PortsTotal, status.PortsFree);
            Assert.Equal(1, status.ClosedByReason[CloseReason.SideFailed]);
            // and the operating system agrees: both ports can be bound again
            foreach (var port in new[] { ch.Left.Port, ch.Right.Port })
            {
                using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork,
                    System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
                s.Bind(new IPEndPoint(IPAddress.Loopback, port));
            }
        }, Wait);
        // the node carries on
        await OpenAsync("after");
    }

    [Fact]
    public async Task Runtime_stats_report_the_process_and_can_collect_garbage_first()
    {
        var before = await Node.Ask<RuntimeStats>(GetRuntimeStats.Instance, Wait);
        Assert.True(before.CpuMilliseconds > 0 && before.WorkingSetBytes > 0 && before.ManagedHeapBytes > 0);
        var collected = await Node.Ask<RuntimeStats>(new GetRuntimeStats(CollectGarbage: true), Wait);
        Assert.True(collected.Gen2Collections > before.Gen2Collections, "a full collection ran");
        Assert.True(collected.AllocatedBytes >= before.AllocatedBytes);
    }

    [Fact]
    public async Task Node_wide_subscriber_sees_every_channel_and_drain_frees_every_port()
    {
        var watcher = CreateTestProbe();
        Assert.IsType<Subscribed>(await Node.Ask<object>(new Subscribe(null, watcher.Ref), Wait));
        await OpenAsync("d1");
        await OpenAsync("d2");
        var drained = await Node.Ask<NodeDrained>(DrainNode.Instance, Wait);
        Assert.Equal(drained.PortsTotal, drained.PortsFree);
        var closed = new[] { await watcher.FishForMessageAsync<ChannelClosed>(_ => true, Wait), await watcher.FishForMessageAsync<ChannelClosed>(_ => true, Wait) };
        Assert.All(closed, c => Assert.Equal(CloseReason.NodeStopping, c.Reason));
        Assert.Equal(RejectReason.ShuttingDown, Assert.IsType<OpenRejected>(await Node.Ask<object>(new OpenChannel("late"), Wait)).Reason);
    }

    [Fact]
    public async Task A_drain_that_keeps_channels_refuses_new_ones_and_is_done_when_the_last_one_closes()
    {
        await OpenAsync("k1");
        await OpenAsync("k2");
        var requester = CreateTestProbe();
        Node.Tell(new DrainNode(KeepChannelsFor: TimeSpan.FromMinutes(10)), requester.Ref);
        Assert.Equal(RejectReason.ShuttingDown, Assert.IsType<OpenRejected>(await Node.Ask<object>(new OpenChannel("late"), Wait)).Reason);
        Assert.IsType<ChannelSnapshot>(await Node.Ask<object>(new GetChannel("k1"), Wait)); // kept
        Assert.True((await Node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait)).Draining);
        Assert.IsType<ChannelClosed>(await Node.Ask<object>(new CloseChannel("k1"), Wait));
        await requester.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100)); // k2 still open
        Assert.IsType<ChannelClosed>(await Node.Ask<object>(new CloseChannel("k2"), Wait));
        var drained = await requester.ExpectMsgAsync<NodeDrained>(Wait);
        Assert.Equal(drained.PortsTotal, drained.PortsFree);
    }

    [Fact]
    public async Task A_drain_that_keeps_channels_closes_the_rest_at_its_deadline()
    {
        var watcher = CreateTestProbe();
        await Node.Ask<Subscribed>(new Subscribe(null, watcher.Ref), Wait);
        await OpenAsync("k3");
        var requester = CreateTestProbe();
        Node.Tell(new DrainNode(KeepChannelsFor: TimeSpan.FromMilliseconds(300)), requester.Ref);
        await requester.ExpectMsgAsync<NodeDrained>(Wait);
        Assert.Equal(CloseReason.NodeStopping, (await watcher.FishForMessageAsync<ChannelClosed>(_ => true, Wait)).Reason);
    }
}

public sealed class SocketTransportNodeSpecs(ITestOutputHelper output) : RelayNodeSpecs("socket", output);

public sealed class SocketDotnetEngineNodeSpecs(ITestOutputHelper output) : RelayNodeSpecs("socket-dotnet", output);

public sealed class AkkaIoTransportNodeSpecs(ITestOutputHelper output) : RelayNodeSpecs("akka-io", output);

/// <summary>relay.max-datagram above the default (jumbo-sized video): relayed intact up to it, dropped beyond, on every data path.</summary>
public abstract class LargeDatagramSpecs(string dataPath, ITestOutputHelper output)
    : RelayNodeSpecsBase(dataPath, output, "relay.max-datagram = 9000\n" + RelaySettings.AkkaIoHocon(9000))
{
    [Fact]
    public async Task Datagrams_up_to_a_configured_maximum_of_9000_bytes_are_intact()
    {
        Assert.Equal(9000, Settings.MaxDatagram);
        var ch = await OpenAsync("jumbo");
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        await LatchBothAsync(ch, a, b);
        var max = Enumerable.Range(0, 9000).Select(i => (byte)(i * 7)).ToArray();
        a.SendTo(ch.Left, max);
        Assert.Equal(max, await b.ExpectAsync(Wait));
        a.SendTo(ch.Left, new byte[9001]);
        a.SendTo(ch.Left, Payload("after"));
        Assert.Equal("after", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
        Assert.Equal(1, (await Node.Ask<ChannelSnapshot>(new GetChannel("jumbo"), Wait)).Left.Dropped.GetValueOrDefault(DropReason.Oversize));
    }
}

public sealed class SocketLargeDatagramSpecs(ITestOutputHelper output) : LargeDatagramSpecs("socket", output);

public sealed class SocketDotnetEngineLargeDatagramSpecs(ITestOutputHelper output) : LargeDatagramSpecs("socket-dotnet", output);

public sealed class AkkaIoLargeDatagramSpecs(ITestOutputHelper output) : LargeDatagramSpecs("akka-io", output);

/// <summary>
/// akka-io's receive buffers come from a pool (hocon/relay.conf: akka.io.udp.buffer-pool = direct-buffer-pool): each
/// bound socket holds one while it waits for a datagram and gives it back when it closes. Here the pool has six
/// buffers: a channel's two, a closed channel's two whose sockets' aborted receives may not have come back yet, and one
/// per socket for the moment Akka.IO rents the next receive's buffer before it returns the last one. A buffer not
/// given back leaves a later channel's sockets without one within a few of the twenty channels, and its open fails.
/// </summary>
public sealed class AkkaIoBufferPoolSpecs(ITestOutputHelper output)
    : RelayNodeSpecsBase("akka-io", output, "akka.io.udp.direct-buffer-pool { buffers-per-segment = 2, buffer-pool-limit = 3 }")
{
    [Fact]
    public async Task A_pool_of_six_receive_buffers_serves_channel_after_channel()
    {
        Assert.Equal("akka.io.udp.direct-buffer-pool", Sys.Settings.Config.GetString("akka.io.udp.buffer-pool")); // the default
        for (var i = 0; i < 20; i++)
        {
            var ch = await OpenAsync($"pooled-{i}");
            using var a = new UdpPeer();
            using var b = new UdpPeer();
            await LatchBothAsync(ch, a, b);
            a.SendTo(ch.Left, Payload($"a->b {i}"));
            Assert.Equal($"a->b {i}", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
            Assert.IsType<ChannelClosed>(await Node.Ask<object>(new CloseChannel(ch.ChannelId), Wait));
        }
    }
}

using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using ActorRelay.Client;
using ActorRelay.Cluster;
using ActorRelay.Control;
using ActorRelay.Hosting;
using ActorRelay.Ng;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Ng;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Cluster;

/// <summary>
/// Three relay nodes, each its own ActorSystem on 127.0.0.2, .3 and .4 (loopback aliases, no setup on Linux), form a
/// relay cluster from configuration (one static seed) in this test process; a supervisor in the first node's system
/// opens channels through the placement entry point (/user/placement).
/// </summary>
public sealed class RelayClusterSpecs : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly string[] Hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
    private readonly List<ActorSystem> _nodes = new();
    private readonly List<IPEndPoint> _ng = new();

    public RelayClusterSpecs(ITestOutputHelper output) : base("akka.loglevel = WARNING", "cluster-test-supervisor", output) { }

    private static int FreeTcpPort(string host)
    {
        using var l = new TcpListener(IPAddress.Parse(host), 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Starts the three nodes (the seed first), the relay in each as the node process would, and waits for three members with loads.</summary>
    /// <param name="maxChannels">relay.max-channels of each node (0 = the open-file limit).</param>
    /// <param name="ports">The nodes' UDP ports: the same range on each node's own address, below TestPorts' areas
    /// (2000+) so that no other spec's range, nor its count of bound ports, meets them.</param>
    /// <param name="ng">Each node runs an NG endpoint on its own address (<see cref="_ng"/>).</param>
    /// <param name="cuttable">Every node's remoting runs through Akka's throttler adapter, so a test can cut a node off (<see cref="CutOffAsync"/>).</param>
    private async Task<IActorRef> StartClusterAsync(int[] maxChannels, (int Min, int Max) ports, bool[]? crashable = null, bool ng = false, bool cuttable = false)
    {
        var seedPort = FreeTcpPort(Hosts[0]);
        var seed = cuttable ? $"akka.trttl.tcp://actor-relay@{Hosts[0]}:{seedPort}" : $"{Hosts[0]}:{seedPort}";
        for (var i = 0; i < Hosts.Length; i++)
        {
            var port = i == 0 ? seedPort.ToString() : "0";
            if (ng) _ng.Add(new IPEndPoint(IPAddress.Parse(Hosts[i]), FreeUdpPort(Hosts[i])));
            var config = ConfigurationFactory.ParseString($$"""
                akka.loglevel = WARNING
                akka.remote.dot-netty.tcp { hostname = "{{Hosts[i]}}", port = {{port}}, applied-adapters = [{{(cuttable ? "trttl" : "")}}] }
                akka.cluster.failure-detector { heartbeat-interval = 500ms, acceptable-heartbeat-pause = 2s }
                akka.cluster.split-brain-resolver.stable-after = 2s
                akka.coordinated-shutdown.run-by-actor-system-terminate = {{(crashable?[i] == true ? "off" : "on")}}
                relay {
                  bind-address = "{{Hosts[i]}}"
                  ports { min = {{ports.Min}}, max = {{ports.Max}} }
                  max-channels = {{maxChannels[i]}}
                  cluster { seed-nodes = ["{{seed}}"], load-interval = 200ms }
                  ng.listen = [{{(ng ? $"\"{_ng[i]}\"" : "")}}]
                }
                """)
                .WithFallback(RelayMembership.Hocon("actor-relay", [seed], "relay"))
                .WithFallback(RelaySettings.DefaultConfig());
            var system = ActorSystem.Create("actor-relay", config);
            _nodes.Add(system);
            RelayHostingExtensions.StartRelayNode(system);
        }
        var entry = await _nodes[0].ActorSelection("/user/placement").ResolveOne(Wait);
        var probe = CreateTestProbe(_nodes[0]);
        await probe.AwaitAssertAsync(async () =>
        {
            var loads = await entry.Ask<PlacementEntryActor.KnownLoads>(PlacementEntryActor.GetLoads.Instance, Wait);
            Assert.Equal(3, loads.Loads.Count);
            Assert.All(_nodes, n => Assert.Equal(3, RelayMembership.UsableRelayNodes(n, "relay").Count)); // every entry point sees all three
        }, Wait, TimeSpan.FromMilliseconds(200));
        return entry;
    }

    /// <summary>Cuts node <paramref name="index"/> off from the others (both ways, as a network partition would).</summary>
    private async Task CutOffAsync(int index)
    {
        var cut = Akka.Cluster.Cluster.Get(_nodes[index]).SelfAddress;
        foreach (var (system, i) in _nodes.Select((n, i) => (n, i)).Where(n => n.i != index))
        {
            var other = Akka.Cluster.Cluster.Get(system).SelfAddress;
            await Transport(system).ManagementCommand(new Akka.Remote.Transport.SetThrottle(cut, Akka.Remote.Transport.ThrottleTransportAdapter.Direction.Both, Akka.Remote.Transport.Blackhole.Instance));
            await Transport(_nodes[index]).ManagementCommand(new Akka.Remote.Transport.SetThrottle(other, Akka.Remote.Transport.ThrottleTransportAdapter.Direction.Both, Akka.Remote.Transport.Blackhole.Instance));
        }
        static Akka.Remote.RemoteTransport Transport(ActorSystem system) => ((Akka.Remote.IRemoteActorRefProvider)((ExtendedActorSystem)system).Provider).Transport;
    }

    private static int FreeUdpPort(string host)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Parse(host), 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static string HostOf(ChannelOpened o) => o.Left.Address; // each node binds and advertises its own address

    private static async Task<List<ChannelOpened>> OpenAsync(IActorRef entry, IActorRef supervisor, string prefix, int count)
    {
        var opened = new List<ChannelOpened>();
        for (var batch = 0; batch < count; batch += 25)
        {
            var asks = Enumerable.Range(batch, Math.Min(25, count - batch))
                .Select(i => entry.Ask<object>(new OpenChannel($"{prefix}-{i}", Subscriber: supervisor), Wait));
            foreach (var reply in await Task.WhenAll(asks)) opened.Add(Assert.IsType<ChannelOpened>(reply));
        }
        return opened;
    }

    [Fact]
    public async Task Three_nodes_spread_300_channels_evenly_list_them_cluster_wide_and_a_draining_node_gets_none_and_leaves_after_its_last_channel()
    {
        var entry = await StartClusterAsync([0, 0, 0], (1100, 1399));
        var supervisor = CreateTestProbe(_nodes[0]);

        var opened = await OpenAsync(entry, supervisor.Ref, "spread", 300);
        var byNode = opened.GroupBy(HostOf).ToDictionary(g => g.Key, g => g.Count());
        Output.WriteLine("300 channels: " + string.Join(", ", byNode.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}")));
        Assert.Equal(Hosts, byNode.Keys.Order());
        Assert.All(byNode.Values, n => Assert.InRange(n, 90, 110)); // within 10 % of 100

        // idempotent across the cluster: the same open again, through another node's entry point, finds the channel
        // (the same supervisor: a channel belongs to the system that opened it)
        var second = Akka.Cluster.Cluster.Get(_nodes[1]).SelfAddress;
        var entryB = await _nodes[0].ActorSelection(new RootActorPath(second) / "user" / "placement").ResolveOne(Wait);
        supervisor.Send(entryB, new OpenChannel("spread-7", Subscriber: supervisor.Ref));
        var again = await supervisor.ExpectMsgAsync<ChannelOpened>(Wait);
        Assert.Equal(opened.Single(o => o.ChannelId == "spread-7").Left, again.Left);
        Assert.Equal(opened.Single(o => o.ChannelId == "spread-7").Channel.Path.Name, again.Channel.Path.Name);

        // cluster-wide list, page by page (50 a page: the nodes' pages after one cursor merged), and status
        var first = await entry.Ask<ChannelList>(ListChannels.Instance, Wait);
        Assert.Equal(50, first.Channels.Count);
        Assert.Equal(first.Channels[^1].ChannelId, first.NextAfter);
        Assert.True(first.Channels.Select(c => c.Left.Address).Distinct().Count() > 1, "the first page holds one node's channels");
        var next = await entry.Ask<ChannelList>(new ListChannels(first.NextAfter, 7), Wait);
        Assert.Equal(7, next.Channels.Count);
        Assert.True(ChannelPaging.IsAfter(next.Channels[0].ChannelId, first.NextAfter));
        var list = await entry.ListAllAsync(Wait).ToListAsync();
        Assert.Equal(opened.Select(o => o.ChannelId).Order(StringComparer.Ordinal), list.Select(c => c.ChannelId));
        Assert.Equal(opened.Select(o => o.Channel.Path.Name).Order(), list.Select(c => c.Channel.Path.Name).Order());
        Assert.Equal(list.Select(c => c.ChannelId), (await entry.ListAllAsync(Wait, limit: 1000).ToListAsync()).Select(c => c.ChannelId));
        Assert.Equal(RejectReason.InvalidRequest, Assert.IsType<CommandRejected>(await entry.Ask<object>(new ListChannels(Limit: 0), Wait)).Reason);
        var status = await entry.Ask<NodeStatus>(GetNodeStatus.Instance, Wait);
        Assert.Equal(300, status.ChannelsOpen);
        Assert.NotNull(status.Cluster);
        Assert.Equal("relay", status.Cluster!.Role);
        Assert.Equal(3, status.Cluster.Members.Count(m => m.Status == "Up" && m.Roles.Contains("relay")));
        // each member's last published load: channels, room, relayed packets/s and relay-loop CPU
        Assert.All(status.Cluster.Members, m => Assert.Equal(m.Address, m.Load?.Node));
        Assert.All(status.Cluster.Members, m => Assert.True(m.Load!.Capacity > 0 && m.Load.PacketsPerSecond >= 0 && m.Load.RelayLoopCpuPercent is >= 0 and <= 100));
        if (ActorRelay.RelayLoops.LinuxUdp.Supported) Assert.NotEmpty(status.RelayLoopCpuMilliseconds!);

        // close through the entry point: it finds the channel on its node
        supervisor.Send(entryB, new CloseChannel("spread-8"));
        await supervisor.FishForMessageAsync(m => m is ChannelClosed { ChannelId: "spread-8" }, Wait);
        Assert.IsType<ChannelNotFound>(await entry.Ask<object>(new GetChannel("spread-8"), Wait));

        // a call's later channel goes where its first one is (the NG endpoint's RTCP and further streams)
        var onThird = opened.First(o => HostOf(o) == Hosts[2]);
        var near = await entry.Ask<ChannelOpened>(new PlaceNear(new OpenChannel("near-1", Subscriber: supervisor.Ref), onThird.Channel), Wait);
        Assert.Equal(Hosts[2], HostOf(near));

        // drain the third node, keeping its calls: it takes no new channel, and is drained when its last call ends
        var third = await _nodes[2].ActorSelection("/user/relay").ResolveOne(Wait);
        var drainer = CreateTestProbe(_nodes[2]);
        third.Tell(new DrainNode(KeepChannelsFor: TimeSpan.FromMinutes(10)), drainer.Ref);
        var after = await OpenAsync(entry, supervisor.Ref, "after-drain", 40);
        Assert.DoesNotContain(after, o => HostOf(o) == Hosts[2]);
        Assert.Contains(after, o => HostOf(o) == Hosts[0]);
        Assert.Contains(after, o => HostOf(o) == Hosts[1]);
        foreach (var o in opened.Append(near).Where(o => HostOf(o) == Hosts[2] && o.ChannelId != "spread-8")) // spread-8 is closed
        {
            supervisor.Send(entry, new CloseChannel(o.ChannelId));
            await supervisor.FishForMessageAsync(m => m is ChannelClosed c && c.ChannelId == o.ChannelId, Wait);
        }
        await drainer.ExpectMsgAsync<NodeDrained>(Wait);

        // then it stops as SIGTERM stops it (coordinated shutdown: drained, then it leaves the cluster gracefully)
        var leaving = Akka.Cluster.Cluster.Get(_nodes[2]).SelfAddress;
        await Akka.Actor.CoordinatedShutdown.Get(_nodes[2]).Run(Akka.Actor.CoordinatedShutdown.ClrExitReason.Instance);
        await supervisor.AwaitAssertAsync(() =>
            Assert.DoesNotContain(Akka.Cluster.Cluster.Get(_nodes[0]).State.Members, m => m.Address.Equals(leaving)), Wait, TimeSpan.FromMilliseconds(200));
        Assert.Equal(2, RelayMembership.UsableRelayNodes(_nodes[0], "relay").Count);
    }

    [Fact]
    public async Task A_full_node_gets_no_channel_and_a_lost_node_reaches_the_supervisor_within_10_s()
    {
        // the third node holds at most 10 channels and has them already; the second one can crash
        var entry = await StartClusterAsync([0, 0, 10], (1500, 1699), crashable: [false, true, false]);
        var supervisor = CreateTestProbe(_nodes[0]);
        var third = await _nodes[2].ActorSelection("/user/relay").ResolveOne(Wait);
        for (var i = 0; i < 10; i++) Assert.IsType<ChannelOpened>(await third.Ask<object>(new OpenChannel($"local-{i}"), Wait));

        var opened = await OpenAsync(entry, supervisor.Ref, "full", 60);
        Assert.DoesNotContain(opened, o => HostOf(o) == Hosts[2]);
        var onSecond = opened.Where(o => HostOf(o) == Hosts[1]).ToList();
        Assert.InRange(onSecond.Count, 20, 40);
        foreach (var o in onSecond) supervisor.Watch(o.Channel);

        // the second node crashes (stops without leaving): the supervisor hears each of its channels terminated
        var started = DateTime.UtcNow;
        _ = _nodes[1].Terminate();
        var lost = new HashSet<IActorRef>();
        while (lost.Count < onSecond.Count)
            lost.Add((await supervisor.ExpectMsgAsync<Terminated>(TimeSpan.FromSeconds(10) - (DateTime.UtcNow - started))).ActorRef);
        Output.WriteLine($"{lost.Count} channels lost after {(DateTime.UtcNow - started).TotalSeconds:0.0} s");

        // the cluster no longer lists them, and new channels go to the node with room
        var list = await entry.ListAllAsync(Wait).ToListAsync();
        Assert.NotEmpty(list);
        Assert.DoesNotContain(list, c => c.Channel.Path.Address.Host == Hosts[1]);
        var more = await OpenAsync(entry, supervisor.Ref, "after-loss", 10);
        Assert.All(more, o => Assert.Equal(Hosts[0], HostOf(o)));
    }

    private static BDictionary Ng(NgTestClient client, string command, string callId, params (string Key, BValue? Value)[] more) =>
        client.Request(BDictionary.Of([("command", command), ("call-id", callId), .. more]));

    private static string Text(BDictionary reply, string key) => reply[key] is BString s ? s.Text : "";

    private static string SdpHost(string sdp) => System.Text.RegularExpressions.Regex.Match(sdp, @"c=IN IP4 ([0-9.]+)").Groups[1].Value;

    private static string Sdp(int port) =>
        $"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n";

    [Fact]
    public async Task An_ng_call_offered_through_one_node_is_answered_queried_and_deleted_through_the_others()
    {
        var entry = await StartClusterAsync([0, 0, 0], (1700, 1799), ng: true);
        using var a = new NgTestClient(_ng[0]);
        using var b = new NgTestClient(_ng[1]);
        using var c = new NgTestClient(_ng[2]);

        // three calls offered through the first node: their channels land on the node with the most room
        var hosts = new Dictionary<string, string>();
        for (var i = 0; i < 3; i++)
        {
            var offer = Ng(a, "offer", $"any-{i}", ("from-tag", "a"), ("sdp", Sdp(4000 + 2 * i)));
            Assert.True(Text(offer, "result") == "ok", offer.ToString());
            hosts[$"any-{i}"] = SdpHost(Text(offer, "sdp"));
        }
        Output.WriteLine("calls on " + string.Join(", ", hosts.Select(h => $"{h.Key} {h.Value}")));
        var list = await entry.Ask<ChannelList>(ListChannels.Instance, Wait);
        Assert.Equal(6, list.Channels.Count(ch => ch.ChannelId.StartsWith("any-", StringComparison.Ordinal))); // RTP and RTCP of each

        // the answers through the second node find each call in the first node's book: the reply is the call's
        foreach (var (callId, host) in hosts)
        {
            var answer = Ng(b, "answer", callId, ("from-tag", "a"), ("to-tag", "b"), ("sdp", Sdp(5000)));
            Assert.True(Text(answer, "result") == "ok", answer.ToString());
            Assert.Equal(host, SdpHost(Text(answer, "sdp"))); // the callee's side of the same call, on the same node
        }
        // the second node's book did not make calls of its own out of them: a query through the third finds the call
        var query = Ng(c, "query", "any-0");
        Assert.True(Text(query, "result") == "ok", query.ToString());
        Assert.NotNull(query["tags"]);
        // a call no node knows is unknown through any node
        Assert.Equal("Unknown call-id", Text(Ng(c, "query", "nobody's"), "error-reason"));

        // a delete through the second node closes the call's channels wherever they are
        var delete = Ng(b, "delete", "any-1", ("from-tag", "a"));
        Assert.True(Text(delete, "result") == "ok", delete.ToString());
        Assert.Null(delete["warning"]);
        await AwaitAssertAsync(async () =>
        {
            var after = await entry.Ask<ChannelList>(ListChannels.Instance, Wait);
            Assert.DoesNotContain(after.Channels, ch => ch.ChannelId.StartsWith("any-1/", StringComparison.Ordinal));
            Assert.Equal(4, after.Channels.Count(ch => ch.ChannelId.StartsWith("any-", StringComparison.Ordinal)));
        }, Wait, TimeSpan.FromMilliseconds(100));
        // and the call is gone from the first node's book too
        Assert.Equal("Unknown call-id", Text(Ng(a, "query", "any-1"), "error-reason"));
    }

    [Fact]
    public async Task A_supervisor_client_hears_exactly_the_lost_nodes_channels_lost_within_10_s()
    {
        var entry = await StartClusterAsync([0, 0, 0], (1800, 1899), crashable: [false, true, false], cuttable: true);
        // a supervisor's client in the first node's system, driving the cluster through its entry point
        var clientActor = _nodes[0].ActorOf(RelayClientActor.Props(new RelayClientOptions
        {
            NodeAddress = Akka.Cluster.Cluster.Get(_nodes[0]).SelfAddress.ToString(), NodeName = "placement",
        }), "relay-client");
        var client = new RelayClient(clientActor);
        var events = CreateTestProbe(_nodes[0]);
        clientActor.Tell(new RelayClientActor.ForwardEvents(events.Ref));

        var opened = new List<ChannelOpened>();
        for (var i = 0; i < 30; i++) opened.Add(await client.OpenAsync(new OpenChannel($"client-{i}")));
        var onSecond = opened.Where(o => HostOf(o) == Hosts[1]).Select(o => o.ChannelId).ToHashSet();
        Output.WriteLine($"{onSecond.Count} of {opened.Count} channels on {Hosts[1]}");
        Assert.InRange(onSecond.Count, 5, 15);

        // the second node is cut off (no word from it any more, as when it crashes or its network fails): the client
        // reports each of its channels lost, and no other
        var started = DateTime.UtcNow;
        await CutOffAsync(1);
        var lost = new HashSet<string>();
        while (lost.Count < onSecond.Count)
        {
            var e = await events.ExpectMsgAsync<IChannelEvent>(TimeSpan.FromSeconds(10) - (DateTime.UtcNow - started));
            var l = Assert.IsType<ChannelLost>(e);
            Assert.Contains(l.ChannelId, onSecond);
            lost.Add(l.ChannelId);
        }
        Output.WriteLine($"{lost.Count} channels lost after {(DateTime.UtcNow - started).TotalSeconds:0.0} s");

        // the cluster-wide list no longer has them, and has every other one
        var list = await client.ListAsync();
        Assert.Equal(opened.Select(o => o.ChannelId).Except(onSecond).Order(StringComparer.Ordinal),
            list.Channels.Select(c => c.ChannelId).Order(StringComparer.Ordinal));
        await events.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500)); // nothing of the others is lost
    }

    protected override void AfterAll()
    {
        Task.WaitAll(_nodes.Select(s => s.Terminate()).ToArray(), TimeSpan.FromSeconds(30));
        base.AfterAll();
    }
}

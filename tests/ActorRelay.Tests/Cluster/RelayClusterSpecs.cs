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
using ActorRelay.Protocol;
using ActorRelay.Settings;
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
    private async Task<IActorRef> StartClusterAsync(int[] maxChannels, (int Min, int Max) ports, bool[]? crashable = null)
    {
        var seed = $"{Hosts[0]}:{FreeTcpPort(Hosts[0])}";
        for (var i = 0; i < Hosts.Length; i++)
        {
            var port = i == 0 ? seed.Split(':')[1] : "0";
            var config = ConfigurationFactory.ParseString($$"""
                akka.loglevel = WARNING
                akka.remote.dot-netty.tcp { hostname = "{{Hosts[i]}}", port = {{port}} }
                akka.cluster.failure-detector { heartbeat-interval = 500ms, acceptable-heartbeat-pause = 2s }
                akka.cluster.split-brain-resolver.stable-after = 2s
                akka.coordinated-shutdown.run-by-actor-system-terminate = {{(crashable?[i] == true ? "off" : "on")}}
                relay {
                  bind-address = "{{Hosts[i]}}"
                  ports { min = {{ports.Min}}, max = {{ports.Max}} }
                  max-channels = {{maxChannels[i]}}
                  cluster { seed-nodes = ["{{seed}}"], load-interval = 200ms }
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

    protected override void AfterAll()
    {
        Task.WaitAll(_nodes.Select(s => s.Terminate()).ToArray(), TimeSpan.FromSeconds(30));
        base.AfterAll();
    }
}

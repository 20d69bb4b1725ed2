using ActorRelay.Cluster;
using ActorRelay.Protocol;
using Akka.Configuration;
using Xunit;

namespace ActorRelay.Tests.Cluster;

/// <summary>The placement choice on its own: loads, draining, refusals, placements not yet in a load.</summary>
public sealed class PlacementChoiceTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 23, 0, 0, TimeSpan.Zero);

    private static NodeLoad Load(string node, int open, int capacity = 100, int portsFree = 1000, bool draining = false, int at = 0) =>
        new(node, open, capacity, portsFree, draining, T0.AddSeconds(at));

    [Fact]
    public void The_node_with_the_most_room_wins_and_ties_go_to_the_lowest_address()
    {
        var c = new PlacementChoice();
        c.Update(Load("b", 10));
        c.Update(Load("a", 10));
        c.Update(Load("c", 30));
        Assert.Equal("a", c.Choose(["a", "b", "c"]));
        c.Update(Load("b", 5, at: 1));
        Assert.Equal("b", c.Choose(["a", "b", "c"]));
    }

    [Fact]
    public void Room_is_capacity_left_bounded_by_free_port_pairs_and_none_while_draining()
    {
        Assert.Equal(90, Load("a", 10).Room());
        Assert.Equal(3, Load("a", 10, portsFree: 7).Room());
        Assert.Equal(0, Load("a", 10, draining: true).Room());
        Assert.Equal(0, Load("a", 120).Room());
    }

    [Fact]
    public void Draining_full_unknown_refused_and_absent_nodes_are_never_chosen()
    {
        var c = new PlacementChoice();
        c.Update(Load("a", 0, draining: true));
        c.Update(Load("b", 100));
        c.Update(Load("d", 0));
        c.Update(Load("e", 0));
        Assert.Equal("e", c.Choose(["a", "b", "c", "d", "e"], new HashSet<string> { "d" }));
        Assert.Null(c.Choose(["a", "b", "c", "d"], new HashSet<string> { "d" })); // c has no load yet
        Assert.Null(c.Choose(["a", "b", "c"]));
        Assert.Null(c.Choose(["e"], new HashSet<string> { "e" }));
    }

    [Fact]
    public void Placements_count_against_a_node_until_a_load_read_after_them()
    {
        var c = new PlacementChoice();
        c.Update(Load("a", 0, capacity: 10));
        c.Update(Load("b", 0, capacity: 10));
        var seen = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var node = c.Choose(["a", "b"])!;
            c.Started(node);
            c.Ended(node, opened: true, T0.AddSeconds(0.5));
            seen.Add(node);
        }
        Assert.Equal(["a", "b", "a", "b", "a", "b"], seen); // spread, not all on one stale load
        Assert.Equal(7, c.Room("a"));
        c.Update(Load("a", 3, capacity: 10, at: 1)); // read after the three placements: it counts them itself
        Assert.Equal(7, c.Room("a"));
        c.Update(Load("a", 3, capacity: 10, at: 0)); // an older load never replaces a newer one
        Assert.Equal(7, c.Room("a"));
    }

    [Fact]
    public void An_open_in_flight_counts_and_a_refused_one_stops_counting()
    {
        var c = new PlacementChoice();
        c.Update(Load("a", 0, capacity: 2));
        c.Started("a");
        c.Started("a");
        Assert.Null(c.Choose(["a"]));
        c.Ended("a", opened: false, T0.AddSeconds(1));
        Assert.Equal("a", c.Choose(["a"]));
        c.Forget("a");
        Assert.Null(c.Room("a"));
    }

    [Theory]
    [InlineData("127.0.0.2:4053", "akka.tcp://actor-relay@127.0.0.2:4053")]
    [InlineData(" relay-1.example:4053 ", "akka.tcp://actor-relay@relay-1.example:4053")]
    [InlineData("akka.tcp://other@10.0.0.2:4053", "akka.tcp://other@10.0.0.2:4053")]
    public void Seeds_are_host_port_or_akka_addresses(string seed, string address) =>
        Assert.Equal(address, RelayMembership.SeedAddress("actor-relay", seed));

    [Theory]
    [InlineData("127.0.0.2")]
    [InlineData("127.0.0.2:0")]
    [InlineData("127.0.0.2:99999")]
    [InlineData(":4053")]
    public void A_seed_that_is_no_address_is_refused(string seed) =>
        Assert.Throws<ConfigurationException>(() => RelayMembership.SeedAddress("actor-relay", seed));

    [Fact]
    public void Cluster_figures_sum_statuses_and_merge_lists()
    {
        var a = new NodeStatus(2, 100, 5, new Dictionary<CloseReason, long> { [CloseReason.Requested] = 3 },
            new Dictionary<RejectReason, long> { [RejectReason.Capacity] = 1 }, 96, 100, "socket", Draining: true);
        var b = a with { ChannelsOpen = 3, Draining = false };
        var sum = ClusterFigures.Sum([a, b], null);
        Assert.Equal(5, sum.ChannelsOpen);
        Assert.Equal(200, sum.Capacity);
        Assert.Equal(6, sum.ClosedByReason[CloseReason.Requested]);
        Assert.Equal(2, sum.RejectionsByReason[RejectReason.Capacity]);
        Assert.Equal("socket", sum.Transport);
        Assert.False(sum.Draining);
        var ep = new RelayEndpoint("127.0.0.2", 2000);
        var merged = ClusterFigures.Merge([
            new ChannelList([new ChannelSummary("b", ChannelState.Open, ep, ep, Akka.Actor.ActorRefs.Nobody)]),
            new ChannelList([new ChannelSummary("a", ChannelState.Open, ep, ep, Akka.Actor.ActorRefs.Nobody)])], 50);
        Assert.Equal(["a", "b"], merged.Channels.Select(c => c.ChannelId));
        Assert.Null(merged.NextAfter);
    }
}

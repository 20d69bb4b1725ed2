using ActorRelay.Cluster;
using ActorRelay.Protocol;
using ActorRelay.RelayLoops;
using Xunit;

namespace ActorRelay.Tests.Cluster;

public sealed class NodeLoadRatesTests
{
    [Fact]
    public void The_first_reading_has_nothing_to_compare_with()
    {
        var rates = new NodeLoadRates();
        Assert.Equal((0.0, 0.0), rates.Next(1_000, 5_000, [300.0]));
    }

    [Fact]
    public void Packets_per_second_and_the_busiest_loops_cpu_come_from_the_change_since_the_last_reading()
    {
        var rates = new NodeLoadRates();
        rates.Next(10_000, 1_000, [100.0, 400.0]);
        // two seconds later: 14,000 more packets; the loops used 500 ms and 1,200 ms of CPU
        var (packets, cpu) = rates.Next(12_000, 15_000, [600.0, 1_600.0]);
        Assert.Equal(7_000, packets, 3);
        Assert.Equal(60, cpu, 3); // 1,200 ms in 2 s: 60 % of one core
        // an idle second
        Assert.Equal((0.0, 0.0), rates.Next(13_000, 15_000, [600.0, 1_600.0]));
    }

    [Fact]
    public void Totals_that_went_down_count_from_zero_and_cpu_stays_within_one_core()
    {
        var rates = new NodeLoadRates();
        rates.Next(0, 10_000, [5_000.0]);
        var (packets, cpu) = rates.Next(1_000, 300, [1_500.0]); // counters started again (a node restart under the same publisher cannot happen, a loop replaced can)
        Assert.Equal(300, packets, 3);
        Assert.Equal(100, cpu, 3);
        Assert.Equal(0, rates.Next(2_000, 300, null).RelayLoopCpuPercent); // no relay loops: no loop CPU
    }

    [Fact]
    public void A_thread_stat_line_gives_user_plus_system_time()
    {
        // /proc/self/task/TID/stat of a thread whose name holds a space and a parenthesis; utime 250, stime 50 ticks
        const string stat = "4242 (relay loop) 1) S 1 4200 4200 0 -1 4194368 10 0 0 0 250 50 0 0 20 0 30 0 100 0 0";
        Assert.Equal(TimeSpan.FromSeconds(3), ThreadCpu.Parse(stat, 100));
        Assert.Null(ThreadCpu.Parse("not a stat line", 100));
        Assert.Null(ThreadCpu.Parse("1 (x) S 1 2", 100));
    }

    [Fact]
    public void A_relay_loops_cpu_time_is_read_from_the_kernel()
    {
        if (!LinuxUdp.Supported) return; // relay loops are Linux's
        using var pool = new RelayLoopPool(1, 1500, TimeSpan.FromMilliseconds(5));
        var loop = pool.Loops[0];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (loop.CpuTime is null && DateTime.UtcNow < deadline) Thread.Yield(); // its thread has started
        Assert.NotNull(loop.CpuTime);
        Assert.True(loop.CpuTime >= TimeSpan.Zero);
    }

    [Fact]
    public void The_cluster_status_shows_each_members_load_and_sums_the_relayed_packets()
    {
        var at = DateTimeOffset.UnixEpoch;
        var view = new NodeClusterView("akka.tcp://actor-relay@127.0.0.2:4053", "relay",
        [
            new ClusterMemberView("akka.tcp://actor-relay@127.0.0.2:4053", "Up", true, ["relay"]),
            new ClusterMemberView("akka.tcp://actor-relay@127.0.0.3:4053", "Up", true, ["relay"]),
        ]);
        var load = new NodeLoad("akka.tcp://actor-relay@127.0.0.3:4053", 10, 100, 180, false, at, PacketsPerSecond: 5_000, RelayLoopCpuPercent: 42.5);
        var shown = ClusterFigures.WithLoads(view, [load])!;
        Assert.Null(shown.Members[0].Load); // none published yet
        Assert.Equal(load, shown.Members[1].Load);

        NodeStatus Status(long relayed, IReadOnlyList<double>? loops) =>
            new(1, 10, 1, new Dictionary<CloseReason, long>(), new Dictionary<RejectReason, long>(), 8, 10, "socket", PacketsRelayed: relayed, RelayLoopCpuMilliseconds: loops);
        var sum = ClusterFigures.Sum([Status(100, [1.0]), Status(250, [2.0, 3.0]), Status(0, null)], shown);
        Assert.Equal(350, sum.PacketsRelayed);
        Assert.Equal([1.0, 2.0, 3.0], sum.RelayLoopCpuMilliseconds);
        Assert.Same(shown, sum.Cluster);
    }
}

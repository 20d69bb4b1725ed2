using ActorRelay.NodeProcess;
using Xunit;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>The node's reading of its control group's CPU limit (CpuLimit).</summary>
public sealed class CpuLimitTests
{
    private static Func<string, string?> Files(params (string Path, string Text)[] files) =>
        path => files.FirstOrDefault(f => f.Path == path).Text;

    [Fact]
    public void A_v2_group_with_a_quota_gives_its_share_in_cores()
    {
        var cores = CpuLimit.Read("0::/system.slice/relay.service\n", Files(("/sys/fs/cgroup/system.slice/relay.service/cpu.max", "30000 100000\n")));
        Assert.Equal(0.3, cores!.Value, 6);
    }

    [Fact]
    public void A_v2_group_without_a_quota_is_not_limited()
    {
        Assert.Null(CpuLimit.Read("0::/\n", Files(("/sys/fs/cgroup/cpu.max", "max 100000\n"))));
        Assert.Null(CpuLimit.Read("0::/a\n", Files())); // no cpu.max: the cpu controller is not enabled for the group
    }

    [Fact]
    public void A_v1_cpu_group_wins_over_the_unified_hierarchy_on_a_hybrid_host()
    {
        var self = "12:pids:/\n4:cpu,cpuacct:/actorrelay-bench-1\n0::/\n";
        var cores = CpuLimit.Read(self, Files(
            ("/sys/fs/cgroup/cpu/actorrelay-bench-1/cpu.cfs_quota_us", "3000\n"), ("/sys/fs/cgroup/cpu/actorrelay-bench-1/cpu.cfs_period_us", "10000\n"),
            ("/sys/fs/cgroup/cpu.max", "max 100000\n")));
        Assert.Equal(0.3, cores!.Value, 6);
        Assert.Null(CpuLimit.Read("1:cpu:/\n", Files(("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n"), ("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n"))));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("0 100000")]
    [InlineData("-5 100000")]
    [InlineData("30000")]
    public void An_unreadable_cpu_max_is_no_limit(string text) => Assert.Null(CpuLimit.FromCpuMax(text));

    [Fact]
    public void This_process_reads_a_limit_or_none_without_failing()
    {
        var cores = CpuLimit.OfThisProcess();
        Assert.True(cores is null or > 0, $"{cores}");
    }
}

/// <summary>A node process started inside a control group that allows it less than a core (root and a cgroup cpu controller).</summary>
public sealed class CpuLimitNodeProcessSpecs
{
    [SkippableFact]
    public void A_node_held_to_less_than_a_core_says_its_limit_and_runs_without_tiered_compilation()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.UserName == "root", "needs root to make a control group");
        var v2 = File.Exists("/sys/fs/cgroup/cgroup.controllers") && File.ReadAllText("/sys/fs/cgroup/cgroup.controllers").Contains("cpu");
        Skip.IfNot(v2 || Directory.Exists("/sys/fs/cgroup/cpu"), "no cgroup cpu controller");
        var group = Path.Combine(v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu", $"actorrelay-test-{Environment.ProcessId}");
        if (v2) File.WriteAllText("/sys/fs/cgroup/cgroup.subtree_control", "+cpu");
        Directory.CreateDirectory(group);
        try
        {
            // 90 % of a core in 100 ms periods: below one core, and a start-up that is not much slower than without
            if (v2) File.WriteAllText(Path.Combine(group, "cpu.max"), "90000 100000");
            else
            {
                File.WriteAllText(Path.Combine(group, "cpu.cfs_period_us"), "100000");
                File.WriteAllText(Path.Combine(group, "cpu.cfs_quota_us"), "90000");
            }
            using (var node = new NodeProcess(["--bind", "127.0.0.1", "--remote-port", "0", "--log-level", "information"],
                       new Dictionary<string, string> { ["ACTORRELAY__PORTS__MIN"] = "12900", ["ACTORRELAY__PORTS__MAX"] = "12909" },
                       joinGroup: group))
            {
                Assert.Contains("tiered compilation off", node.WaitForLine(l => l.Contains("Runtime: "), TimeSpan.FromSeconds(120)));
                Assert.Contains("0.9 cores", node.WaitForLine(l => l.Contains("CPU limit of this node's control group"), TimeSpan.FromSeconds(60)));
                node.WaitForLine(l => l == "All set.", TimeSpan.FromSeconds(60));
            }
            // the user's choice wins: tiering on
            using (var node = new NodeProcess(["--bind", "127.0.0.1", "--remote-port", "0", "--log-level", "information"],
                       new Dictionary<string, string>
                       {
                           ["ACTORRELAY__PORTS__MIN"] = "12900", ["ACTORRELAY__PORTS__MAX"] = "12909", [JitTiering.Variable] = "1",
                       },
                       joinGroup: group))
            {
                Assert.Contains("tiered compilation on", node.WaitForLine(l => l.Contains("Runtime: "), TimeSpan.FromSeconds(120)));
                Assert.Contains("0.9 cores", node.WaitForLine(l => l.Contains("CPU limit of this node's control group"), TimeSpan.FromSeconds(60)));
            }
        }
        finally
        {
            for (var i = 0; i < 50 && Directory.Exists(group); i++)
            {
                try { Directory.Delete(group); }
                catch (IOException) { Thread.Sleep(100); } // the node is still leaving the group
            }
        }
    }
}

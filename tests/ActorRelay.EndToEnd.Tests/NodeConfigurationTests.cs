using System.Collections;
using ActorRelay.NodeProcess;
using Xunit;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>The node's configuration layers: relay.conf &lt; node.conf &lt; --config file &lt; environment &lt; command line.</summary>
public sealed class NodeConfigurationTests
{
    private static NodeOptions Options(string? file = null, string? transport = null) =>
        new([], file, null, null, transport, null, null, null, "information");

    [Fact]
    public void The_node_runs_akkas_scheduler_at_100_ms_unless_its_config_file_says_otherwise()
    {
        var config = NodeConfiguration.Build(Options(), new Hashtable());
        Assert.Equal(TimeSpan.FromMilliseconds(100), config.GetTimeSpan("akka.scheduler.tick-duration"));
        Assert.Equal("socket", config.GetString("relay.transport")); // relay.conf is still underneath

        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "akka.scheduler.tick-duration = 10ms\nrelay.transport = akka-io");
            var mine = NodeConfiguration.Build(Options(file), new Hashtable());
            Assert.Equal(TimeSpan.FromMilliseconds(10), mine.GetTimeSpan("akka.scheduler.tick-duration"));
            Assert.Equal("akka-io", mine.GetString("relay.transport"));
            var env = NodeConfiguration.Build(Options(file), new Hashtable { ["ACTORRELAY__TRANSPORT"] = "socket" });
            Assert.Equal("socket", env.GetString("relay.transport"));
            var cli = NodeConfiguration.Build(Options(file, transport: "akka-io"), new Hashtable { ["ACTORRELAY__TRANSPORT"] = "socket" });
            Assert.Equal("akka-io", cli.GetString("relay.transport"));
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void The_node_s_timer_wheel_turns_in_seconds()
    {
        // A cancelled Akka timer (a closed channel's 180 s deadline) leaves the scheduler's wheel only when its bucket's
        // turn comes, holding the stopped actor's reference, cell and Props until then. Akka's 512 buckets at the node's
        // 100 ms made a turn 51.2 s: under NG load every channel closed in the last 51 s stayed reachable (docs/benchmarks.md).
        var config = NodeConfiguration.Build(Options(), new Hashtable());
        var turn = config.GetTimeSpan("akka.scheduler.tick-duration") * config.GetInt("akka.scheduler.ticks-per-wheel");
        Assert.True(turn <= TimeSpan.FromSeconds(5), $"one turn of the node's timer wheel is {turn}");
    }
}

using ActorRelay.NodeProcess;
using Xunit;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>The node runs without tiered compilation unless the runtime's own variable says otherwise (JitTiering).</summary>
public sealed class JitTieringSpecs
{
    [Theory]
    [InlineData(null, null, "false", false)]  // the node's runtimeconfig.json
    [InlineData(null, null, null, true)]      // the runtime's default
    [InlineData("1", null, "false", true)]    // the variable wins over runtimeconfig.json
    [InlineData("0", null, "true", false)]
    [InlineData(" 0 ", "1", "true", false)]   // DOTNET_ before COMPlus_
    [InlineData(null, "1", "false", true)]
    [InlineData("yes", null, "false", false)] // not a number: the runtime ignores it
    [InlineData("a", null, "false", true)]    // hexadecimal, as the runtime reads it
    public void Tiering_is_decided_as_the_runtime_decides_it(string? variable, string? legacy, string? runtimeConfig, bool on) =>
        Assert.Equal(on, JitTiering.On(variable, legacy, runtimeConfig));

    [Fact]
    public void The_node_process_runs_without_tiered_compilation_unless_the_variable_turns_it_on()
    {
        var environment = new Dictionary<string, string> { ["ACTORRELAY__PORTS__MIN"] = "12910", ["ACTORRELAY__PORTS__MAX"] = "12919" };
        string[] args = ["--bind", "127.0.0.1", "--remote-port", "0", "--log-level", "information"];
        using (var node = new NodeProcess(args, environment))
            Assert.EndsWith("tiered compilation off", node.WaitForLine(l => l.Contains("Runtime: "), TimeSpan.FromSeconds(120)));
        using (var node = new NodeProcess(args, new Dictionary<string, string>(environment) { [JitTiering.Variable] = "1" }))
            Assert.EndsWith("tiered compilation on", node.WaitForLine(l => l.Contains("Runtime: "), TimeSpan.FromSeconds(120)));
    }
}

using ActorRelay.NodeProcess;
using Akka.Configuration;
using Serilog.Events;
using Xunit;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>The node process's logging settings (relay.logging) and the per-source levels.</summary>
public sealed class NodeLoggingTests
{
    private static NodeLogging From(string hocon, string? levelOption = null) =>
        NodeLogging.From(ConfigurationFactory.ParseString(hocon).WithFallback(Settings.RelaySettings.DefaultConfig()), levelOption,
            directory: Path.GetTempPath());

    [Fact]
    public void Defaults_are_information_as_text_with_no_source_levels()
    {
        var l = From("");
        Assert.Equal(LogEventLevel.Information, l.Level);
        Assert.False(l.Json);
        Assert.Empty(l.Levels);
    }

    [Fact]
    public void The_level_option_wins_over_the_configuration()
    {
        Assert.Equal(LogEventLevel.Warning, From("relay.logging.level = debug", "warning").Level);
        Assert.Equal(LogEventLevel.Debug, From("relay.logging.level = debug").Level);
    }

    [Fact]
    public void A_source_takes_the_level_of_its_longest_configured_prefix()
    {
        var l = From("""relay.logging { level = information, levels { "Akka" = warning, "ActorRelay.Ng" = debug, "ActorRelay.Ng.NgEndpoint" = error } }""");
        Assert.Equal(LogEventLevel.Warning, l.LevelOf("Akka.Remote.EndpointWriter"));
        Assert.Equal(LogEventLevel.Debug, l.LevelOf("ActorRelay.Ng.NgCallActor"));
        Assert.Equal(LogEventLevel.Error, l.LevelOf("ActorRelay.Ng.NgEndpoint"));
        Assert.Equal(LogEventLevel.Information, l.LevelOf("ActorRelay.Ngx.Other"));   // a prefix ends at a dot
        Assert.Equal(LogEventLevel.Information, l.LevelOf(null));                      // the process's own lines
        Assert.Equal(LogEventLevel.Debug, l.Least);                                    // what Akka must still pass on
    }

    [Theory]
    [InlineData("relay.logging.format = xml", "relay.logging.format must be text or json")]
    [InlineData("relay.logging.level = loud", "relay.logging.level must be verbose, debug, information, warning or error")]
    [InlineData("relay.logging.levels { \"Akka\" = quiet }", "relay.logging.levels.\"Akka\" must be")]
    public void A_bad_logging_setting_is_refused_naming_it(string hocon, string error) =>
        Assert.Contains(error, Assert.Throws<UsageException>(() => From(hocon)).Message);

    [Fact]
    public void An_appsettings_json_with_a_serilog_section_takes_over()
    {
        var dir = Directory.CreateTempSubdirectory("actorrelay-logging-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "appsettings.json"), """{ "Serilog": { "MinimumLevel": "Warning" } }""");
            var l = NodeLogging.From(Settings.RelaySettings.DefaultConfig(), null, dir.FullName);
            Assert.NotNull(l.AppSettings);
            using var logger = l.CreateLogger();
            Assert.False(logger.IsEnabled(LogEventLevel.Information));
            Assert.True(logger.IsEnabled(LogEventLevel.Warning));
        }
        finally { dir.Delete(recursive: true); }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_source_level_in_the_config_file_quiets_that_source_in_the_node_process(bool quiet)
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, quiet ? """relay.logging { levels { "ActorRelay.Channels" = warning } }""" : "");
            var port = quiet ? 13600 : 13620;
            using var node = new NodeProcess([$"{port}:{port + 1}", "--config", file, "--bind", "127.0.0.1", "--remote-port", "0"],
                new Dictionary<string, string> { ["ACTORRELAY__PORTS__MIN"] = $"{port + 2}", ["ACTORRELAY__PORTS__MAX"] = $"{port + 11}" });
            node.WaitForLine(l => l == "All set.", TimeSpan.FromSeconds(60));
            node.Terminate();
            Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
            Assert.Contains(node.ErrorLines, l => l.Contains("Relay node started"));                 // ActorRelay.Node: information
            Assert.Equal(!quiet, node.ErrorLines.Any(l => l.Contains($"Channel {port}:{port + 1} open"))); // ActorRelay.Channels
        }
        finally { File.Delete(file); }
    }
}

using System.Collections;
using Akka.Configuration;
using ActorRelay.NodeProcess;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using Xunit;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>What the node process refuses before it starts, as plain logic: the checks the process specs run end to end.</summary>
public sealed class NodeSettingsCheckTests
{
    private static NodeOptions Options(string? file = null) => new([], file, null, null, null, null, null, null, "information");

    private static Config Build(string? fileText = null, IDictionary? env = null)
    {
        var file = fileText is null ? null : Path.GetTempFileName();
        try
        {
            if (file is not null) File.WriteAllText(file, fileText);
            return NodeConfiguration.Build(Options(file), env ?? new Hashtable());
        }
        finally { if (file is not null) File.Delete(file); }
    }

    [Theory]
    [InlineData("relay.idle-timout = 5s", "unknown setting relay.idle-timout (did you mean relay.idle-timeout?)")]
    [InlineData("relay { ports { mni = 1 } }", "unknown setting relay.ports.mni (did you mean relay.ports.min?)")]
    [InlineData("relay = 5", "relay is a section")]
    [InlineData("relay.ports = 20000", "relay.ports is a section (min, max, bind-attempts)")]
    [InlineData("relay.idle-timeout { a = 1 }", "relay.idle-timeout must be a single value, got a section")]
    [InlineData("relay.idle-timeout = [1, 2]", "relay.idle-timeout must be a single value, got a list")]
    [InlineData("relay.idle-timeout = = 5", "relay.idle-timeout has no value")]
    [InlineData("relay {\n  idle-timeout = 5s\n", "line 1: '{' is never closed")]
    [InlineData("relay.idle-timeout = 5s\n}", "line 2: '}' closes nothing")]
    [InlineData("relay.channels = [ { left = 1 }\n", "line 1: '[' is never closed")]
    [InlineData("relay { a = [ 1 }", "'}' closes the '[' of line 1")]
    [InlineData("relay.node-name = \"relay\nrelay.x = 1", "line 1: a quoted string is never closed")]
    [InlineData("include \"/nonexistent/actorrelay.conf\"", "include \"/nonexistent/actorrelay.conf\": file not found")]
    [InlineData("include required(\"x.conf\")", "only include \"FILE\" is supported")]
    public void A_config_file_with_a_mistake_is_refused_naming_the_key_or_the_line(string text, string expected)
    {
        var e = Assert.Throws<UsageException>(() => Build(text));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Brackets_and_comments_inside_strings_do_not_count()
    {
        var c = Build("# a comment with { and [\n// and another }\nrelay {\n  node-name = \"a{b]c # not a comment\"\n  advertise-address = \"\"\"\n\"\"\"\n}\n" +
                      "relay.control.allow = [\"127.0.0.1\"]\nrelay.control.administrators = [ ]\nakka.loglevel = INFO");
        Assert.Equal("a{b]c # not a comment", c.GetString("relay.node-name"));
    }

    [Fact]
    public void An_include_is_read_relative_to_the_including_file()
    {
        var dir = Directory.CreateTempSubdirectory("actorrelay-include");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "ports.conf"), "relay.ports { min = 21000, max = 21099 }");
            var main = Path.Combine(dir.FullName, "relay.conf");
            File.WriteAllText(main, "include \"ports.conf\"\nrelay.idle-timeout = 5s");
            var c = NodeConfiguration.Build(Options(main), new Hashtable());
            Assert.Equal(21000, c.GetInt("relay.ports.min"));
            Assert.Equal(TimeSpan.FromSeconds(5), c.GetTimeSpan("relay.idle-timeout"));
        }
        finally { dir.Delete(recursive: true); }
    }

    [Theory]
    [InlineData("ACTORRELAY__IDLE_TIMOUT", "5s", "Unknown environment variable ACTORRELAY__IDLE_TIMOUT (no setting relay.idle-timout); did you mean ACTORRELAY__IDLE_TIMEOUT?")]
    [InlineData("ACTORRELAY__PORTS__MNI", "1", "did you mean ACTORRELAY__PORTS__MIN?")]
    [InlineData("ACTORRELAY__RELAY__IDLE_TIMEOUT", "5s", "did you mean ACTORRELAY__IDLE_TIMEOUT?")]
    [InlineData("ACTORRELAY__PORTS", "5", "relay.ports is a section, set its keys instead (ACTORRELAY__PORTS__MIN, ACTORRELAY__PORTS__MAX")]
    [InlineData("ACTORRELAY__COMPLETELY_DIFFERENT", "1", "Unknown environment variable ACTORRELAY__COMPLETELY_DIFFERENT")]
    public void An_unknown_environment_variable_is_refused_with_the_closest_known_one(string name, string value, string expected)
    {
        var e = Assert.Throws<UsageException>(() => Build(env: new Hashtable { [name] = value }));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Every_setting_of_relay_conf_has_its_environment_variable()
    {
        var env = new Hashtable { ["ACTORRELAY__CONTROL__ADMINISTRATORS"] = "127.0.0.1", ["ACTORRELAY__REMOTE__TLS__ENABLED"] = "off",
            ["ACTORRELAY__CHANNEL_MAILBOX__MAILBOX_TYPE"] = "ActorRelay.Channels.CompactMailbox, ActorRelay", ["OTHER"] = "x" };
        var c = Build(env: env);
        Assert.Equal("127.0.0.1", c.GetString("relay.control.administrators"));
        foreach (var setting in NodeConfiguration.Schema.Settings)
            Assert.Equal(setting, NodeConfiguration.PathOf(NodeConfiguration.VariableOf(setting)));
    }

    [Fact]
    public void A_setting_s_message_says_which_variable_or_option_set_it()
    {
        var env = new Hashtable { ["ACTORRELAY__PORTS__MIN"] = "abc" };
        Assert.Equal("relay.ports.min must be x (from ACTORRELAY__PORTS__MIN)", NodeConfiguration.Explain("relay.ports.min must be x", Options(), env));
        Assert.Equal("relay.ports.max must be x", NodeConfiguration.Explain("relay.ports.max must be x", Options(), env));
        Assert.Equal("relay.remote.port is in use (from --remote-port)",
            NodeConfiguration.Explain("relay.remote.port is in use", Options() with { RemotePort = 4053 }, env));
    }

    [Fact]
    public void Declared_channels_have_no_timeouts_unless_their_entry_sets_them()
    {
        var c = Build("relay.channels = [\n { id = lobby, left = 20000, right = 20001, latch = rtp }\n" +
                      " { left = 20002, right = 20003, idle-timeout = 2s, setup-timeout = off, max-lifetime = 1h }\n]");
        var channels = DeclaredChannel.FromConfig(c);
        Assert.Equal(2, channels.Count);
        Assert.Equal(new ChannelOptions(LatchMode.Rtp, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero), channels[0].Options);
        Assert.Equal("20002:20003", channels[1].Id);
        Assert.Equal(new ChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.Zero, TimeSpan.FromHours(1)), channels[1].Options);
        Assert.Equal(new ChannelOptions(null, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero), NodeCommandLine.ParsePair("20004:20005").Options);
        Assert.Empty(DeclaredChannel.FromConfig(Build()));
        Assert.Empty(DeclaredChannel.FromConfig(Build("relay.channels = [ ]")));
    }

    [Theory]
    [InlineData("relay.channels = \"notalist\"", "relay.channels must be a list of entries")]
    [InlineData("relay.channels = [ 5 ]", "relay.channels[0] must be an entry")]
    [InlineData("relay.channels = [ { left = 20000 } ]", "relay.channels[0] has no right port")]
    [InlineData("relay.channels = [ { left = 20000, right = 70000 } ]", "relay.channels[0].right must be a UDP port in 1..65535, got \"70000\"")]
    [InlineData("relay.channels = [ { left = 1, right = 2 }, { left = 3, right = 4, idle-timout = 5s } ]", "relay.channels[1]: unknown key idle-timout (did you mean idle-timeout?)")]
    [InlineData("relay.channels = [ { left = 1, right = 2, setup-timeout = soon } ]", "relay.channels[0].setup-timeout must be a duration")]
    [InlineData("relay.channels = [ { left = 1, right = 2, latch = sometimes } ]", "relay.channels[0]: latch must be first, rtp or follow")]
    public void A_bad_channel_entry_is_refused_naming_it(string text, string expected)
    {
        var e = Assert.Throws<UsageException>(() => DeclaredChannel.FromConfig(Build(text)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Declared_channels_may_not_share_a_port_or_an_id()
    {
        DeclaredChannel C(string id, int l, int r) => new(id, l, r);
        NodeCommandLine.CheckDistinct([C("a", 1, 2), C("b", 3, 4)], "here");
        Assert.Contains("Port 2 is declared twice in here: by channel a and by channel b",
            Assert.Throws<UsageException>(() => NodeCommandLine.CheckDistinct([C("a", 1, 2), C("b", 2, 4)], "here")).Message);
        Assert.Contains("uses port 5 for both sides",
            Assert.Throws<UsageException>(() => NodeCommandLine.CheckDistinct([C("a", 5, 5)], "here")).Message);
        Assert.Contains("Channel id a is declared twice",
            Assert.Throws<UsageException>(() => NodeCommandLine.CheckDistinct([C("a", 1, 2), C("a", 3, 4)], "here")).Message);
    }

    [Theory]
    [InlineData("relay.remote.enabled = banana", "relay.remote.enabled must be on or off")]
    [InlineData("relay.remote.tls.enabled = maybe", "relay.remote.tls.enabled must be on or off")]
    [InlineData("relay.remote.port = 99999", "relay.remote.port must be a TCP port in 0..65535")]
    [InlineData("relay.remote.port = abc", "relay.remote.port must be a TCP port in 0..65535")]
    [InlineData("relay.remote.hostname = \"\"", "relay.remote.hostname must not be empty")]
    public void Remote_settings_are_read_strictly(string text, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => NodeRemote.From(Build(text)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Remote_settings_read_the_defaults_and_their_booleans()
    {
        Assert.Equal(new NodeRemote(true, "127.0.0.1", 4053, null, false), NodeRemote.From(Build()));
        Assert.False(NodeRemote.From(Build("relay.remote { enabled = no, port = 0, public-hostname = relay.example }")).Enabled);
        Assert.Equal("relay.example", NodeRemote.From(Build("relay.remote.public-hostname = relay.example")).PublicHostname);
    }

    [Fact]
    public void Cluster_bootstrap_is_off_by_default_and_makes_the_node_a_relay_member_without_seeds()
    {
        Assert.False(RelaySettings.From(Build()).ClusterBootstrap);
        Assert.False(RelaySettings.From(Build()).Clustered);
        var c = Build("relay.cluster.bootstrap.enabled = on");
        var settings = RelaySettings.From(c);
        Assert.True(settings.ClusterBootstrap);
        Assert.True(settings.Clustered);
        Assert.Equal("cluster", c.GetString("akka.actor.provider"));
        Assert.Equal(["relay"], c.GetStringList("akka.cluster.roles"));
        Assert.Empty(c.GetStringList("akka.cluster.seed-nodes"));
        // the same split brain resolver as a member that lists seeds
        Assert.Equal(c.GetString("akka.cluster.downing-provider-class"), Build("relay.cluster.seed-nodes = [\"127.0.0.1:4053\"]").GetString("akka.cluster.downing-provider-class"));
        Assert.Equal("keep-majority", c.GetString("akka.cluster.split-brain-resolver.active-strategy"));
    }

    [Theory]
    [InlineData("relay.cluster { bootstrap.enabled = on, seed-nodes = [\"127.0.0.1:4053\"] }",
        "relay.cluster.bootstrap.enabled is on and relay.cluster.seed-nodes is set: a node joins through seed nodes or through Cluster Bootstrap, not both")]
    [InlineData("relay.cluster.bootstrap.enabled = maybe", "relay.cluster.bootstrap.enabled must be on or off, got \"maybe\"")]
    public void Bad_cluster_bootstrap_settings_are_refused_naming_the_key(string text, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => RelaySettings.From(Build(text)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Seeds_from_the_command_line_and_bootstrap_from_the_environment_name_both_sources()
    {
        var env = new Hashtable { ["ACTORRELAY__CLUSTER__BOOTSTRAP__ENABLED"] = "on" };
        var options = Options() with { Seeds = ["127.0.0.1:4053"] };
        var e = Assert.Throws<ConfigurationException>(() => RelaySettings.From(NodeConfiguration.Build(options, env)));
        Assert.EndsWith("(from --seed)", NodeConfiguration.Explain(e.Message, options, env));
        Assert.EndsWith("(from ACTORRELAY__CLUSTER__BOOTSTRAP__ENABLED)", NodeConfiguration.Explain(e.Message, Options(), env));
    }

    [Fact]
    public void The_reopen_backoff_doubles_up_to_its_maximum()
    {
        var b = new ReopenBackoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.Zero, b.Delay(0));
        Assert.Equal(TimeSpan.FromMilliseconds(200), b.Delay(1));
        Assert.Equal(TimeSpan.FromMilliseconds(400), b.Delay(2));
        Assert.Equal(TimeSpan.FromMilliseconds(25_600), b.Delay(8));
        Assert.Equal(TimeSpan.FromSeconds(30), b.Delay(9));
        Assert.Equal(TimeSpan.FromSeconds(30), b.Delay(1_000_000));
    }

    [Fact]
    public void Levenshtein_distance()
    {
        Assert.Equal(0, SettingsSchema.Distance("abc", "abc"));
        Assert.Equal(2, SettingsSchema.Distance("idle-timout", "idle-timeout") + 1);
        Assert.Equal(3, SettingsSchema.Distance("kitten", "sitting"));
        Assert.Equal(3, SettingsSchema.Distance("", "abc"));
    }
}

/// <summary>The node process's periodic malloc_trim (NativeHeap).</summary>
public sealed class NativeHeapTests
{
    [Fact]
    public void Free_native_memory_is_handed_back_to_the_system_where_glibc_is_the_allocator()
    {
        if (!OperatingSystem.IsLinux()) { Assert.Null(NativeHeap.Trim()); return; }
        var took = NativeHeap.Trim();
        Assert.NotNull(took); // Debian's glibc here; on musl there is none and the node does without
        Assert.True(took < TimeSpan.FromSeconds(1), $"a trim took {took}");
        using var trimming = NativeHeap.StartTrimming();
        Assert.NotNull(trimming);
    }
}

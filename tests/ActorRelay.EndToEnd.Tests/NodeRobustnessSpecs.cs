using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Protocol;
using Xunit;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>
/// The built node process against what a robustness battery threw at it: declared channels that must live as long as the
/// node, inputs it must refuse in one line, and the open-file limit.
/// </summary>
public sealed class NodeRobustnessSpecs
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(30);
    private static int _nextPort = 12600;

    private static (int Left, int Right) FreePair()
    {
        while (true)
        {
            var left = Interlocked.Add(ref _nextPort, 2) - 2;
            if (Bindable(left) && Bindable(left + 1)) return (left, left + 1);
        }
    }

    private static bool Bindable(int port)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
            s.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
            return true;
        }
        catch (SocketException) { return false; }
    }

    private static ActorSystem Supervisor() => ActorSystem.Create("sip-server", ConfigurationFactory.ParseString(
        "akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }\nakka.loglevel = WARNING")
        .WithFallback(RelayProtocolSerializer.Config));

    private static async Task<IActorRef> Relay(ActorSystem supervisor, NodeProcess node)
    {
        var line = node.WaitForLine(l => l.Contains("Supervisors reach this node at"), Start);
        return await supervisor.ActorSelection(Regex.Match(line, @"akka\.tcp://\S+/user/relay").Value).ResolveOne(TimeSpan.FromSeconds(10));
    }

    /// <summary>Latches both sides and relays one datagram each way (the client knocks until the node answers: no sleep).</summary>
    private static void RelayBothWays(int left, int right)
    {
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 200 };
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        a.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        b.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var buffer = new byte[64];
        a.SendTo("latch-a"u8, new IPEndPoint(IPAddress.Loopback, left));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var heard = 0;
        while (heard == 0 && DateTime.UtcNow < deadline)
        {
            b.SendTo("b-to-a"u8, new IPEndPoint(IPAddress.Loopback, right));
            try { heard = a.Receive(buffer); } catch (SocketException) { }
        }
        Assert.Equal("b-to-a", System.Text.Encoding.ASCII.GetString(buffer, 0, heard));
        a.SendTo("a-to-b"u8, new IPEndPoint(IPAddress.Loopback, left));
        string got;
        do { got = System.Text.Encoding.ASCII.GetString(buffer, 0, b.Receive(buffer)); } while (got != "a-to-b");
    }

    // ---- 1. declared channels live as long as the node ----------------------------------------------------------------

    [Fact]
    public async Task A_declared_pair_outlives_the_node_s_setup_timeout_and_is_opened_again_when_a_supervisor_closes_it()
    {
        var (left, right) = FreePair();
        var pair = $"{left}:{right}";
        using var node = new NodeProcess([pair, "--remote-port", "0"], new Dictionary<string, string>
        {
            ["ACTORRELAY__SETUP_TIMEOUT"] = "1s", ["ACTORRELAY__IDLE_TIMEOUT"] = "1s", // the node's defaults for other channels
            ["ACTORRELAY__PORTS__MIN"] = "13400", ["ACTORRELAY__PORTS__MAX"] = "13499",
            ["ACTORRELAY__CONTROL__ADMINISTRATORS"] = "127.0.0.1",
        });
        node.WaitForLine(l => l == "All set.", Start);
        using var supervisor = Supervisor();
        try
        {
            var relay = await Relay(supervisor, node);
            // a channel of the supervisor's, opened after the pair, times out with the node's 1 s: then so would the pair have
            var inbox = Inbox.Create(supervisor);
            inbox.Send(relay, new OpenChannel("probe", Subscriber: inbox.Receiver));
            Assert.IsType<ChannelOpened>(inbox.Receive(TimeSpan.FromSeconds(10)));
            ChannelClosed? timedOut = null;
            while (timedOut is null) timedOut = inbox.Receive(TimeSpan.FromSeconds(10)) as ChannelClosed;
            Assert.Contains(timedOut.Reason, new[] { CloseReason.SetupTimeout, CloseReason.IdleTimeout });
            var snapshot = await relay.Ask<object>(new GetChannel(pair), TimeSpan.FromSeconds(10));
            Assert.Equal(ChannelState.Open, Assert.IsType<ChannelSnapshot>(snapshot).State);
            Assert.DoesNotContain($"Declared channel {pair} closed", node.Output);
            RelayBothWays(left, right);

            // closed by an administrator (any reason but the node stopping): the node opens it again on the same ports
            var closed = await relay.Ask<ChannelClosed>(new CloseChannel(pair), TimeSpan.FromSeconds(10));
            Assert.Equal(CloseReason.Requested, closed.Reason);
            node.WaitForLine(l => l.Contains($"Declared channel {pair} closed (Requested"), Start);
            node.WaitForLine(l => l.Contains($"Declared channel {pair} open again on ports {pair}"), Start);
            RelayBothWays(left, right);
        }
        finally { await supervisor.Terminate(); }
        node.Terminate();
        Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.DoesNotContain("open again", node.Output.Split("Node draining")[^1]); // nothing re-opened while draining
        Assert.True(Bindable(left) && Bindable(right), "ports must be free after the node exits");
    }

    [Fact]
    public void A_declared_channel_with_a_timeout_of_its_own_times_out_and_is_opened_again_each_time()
    {
        var (left, right) = FreePair();
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, $"relay.channels = [ {{ id = lobby, left = {left}, right = {right}, setup-timeout = 1s }} ]");
            using var node = new NodeProcess(["--config", file, "--remote-port", "0"]);
            node.WaitForLine(l => l == "All set.", Start);
            node.WaitForLine(l => l.Contains("Declared channel lobby closed (SetupTimeout"), Start);
            node.WaitForLine(l => l.Contains($"Declared channel lobby open again on ports {left}:{right}"), Start);
            // kept for good: it times out and comes back again
            node.WaitForLine(l => Regex.Matches(node.Output, "Declared channel lobby open again").Count >= 2, Start);
            node.Terminate();
            Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
            Assert.True(Bindable(left) && Bindable(right), "ports must be free after the node exits");
        }
        finally { File.Delete(file); }
    }

    // ---- 2. what the node refuses, in one line ----------------------------------------------------------------------

    public static TheoryData<string, string[], string?, string?, string> BadInputs => new()
    {
        // name, arguments ({file} = the config file), config file text, environment NAME=VALUE, what the line must name
        { "ports.min not a number", ["--config", "{file}"], "relay.ports.min = \"x\"", null, "relay.ports.min" },
        { "max-channels fraction", ["--config", "{file}"], "relay.max-channels = 1.5", null, "relay.max-channels" },
        { "max-channels huge", ["--config", "{file}"], "relay.max-channels = 99999999999", null, "relay.max-channels" },
        { "buffer with a unit", ["--config", "{file}"], "relay.socket-receive-buffer = \"10MB\"", null, "relay.socket-receive-buffer" },
        { "relay a value", ["--config", "{file}"], "relay = 5", null, "relay is a section" },
        { "env ports.min", [], null, "ACTORRELAY__PORTS__MIN=abc", "ACTORRELAY__PORTS__MIN" },
        { "env relay-loops", [], null, "ACTORRELAY__RELAY_LOOPS=abc", "ACTORRELAY__RELAY_LOOPS" },
        { "env empty timeout", [], null, "ACTORRELAY__IDLE_TIMEOUT=", "ACTORRELAY__IDLE_TIMEOUT" },
        { "env unknown", [], null, "ACTORRELAY__IDLE_TIMOUT=5s", "did you mean ACTORRELAY__IDLE_TIMEOUT?" },
        { "remote enabled banana", ["--config", "{file}"], "relay.remote.enabled = banana", null, "relay.remote.enabled" },
        { "remote host unknown", ["--remote-host", "no-such-host.invalid"], null, null, "--remote-host" },
        { "remote port too big", ["--remote-port", "99999"], null, null, "--remote-port" },
        { "remote port not a number", ["--remote-port", "abc"], null, null, "--remote-port" },
        { "pairs share a port", ["14000:14001", "14002:14000"], null, null, "Port 14000 is declared twice" },
        { "pair on one port", ["14000:14000"], null, null, "uses port 14000 for both sides" },
        { "pair and entry share a port", ["14000:14001", "--config", "{file}"], "relay.channels = [ { left = 14001, right = 14003 } ]", null, "Port 14001 is declared twice" },
        { "channels not a list", ["--config", "{file}"], "relay.channels = \"notalist\"", null, "relay.channels must be a list" },
        { "channel entry typo", ["--config", "{file}"], "relay.channels = [ { left = 14000, right = 14001, idle-timout = 5s } ]", null, "idle-timout (did you mean idle-timeout?)" },
        { "file key typo", ["--config", "{file}"], "relay.idle-timout = 5s", null, "relay.idle-timout (did you mean relay.idle-timeout?)" },
        { "unclosed section", ["--config", "{file}"], "relay {\n  idle-timeout = 5s\n", null, "'{' is never closed" },
        { "include missing", ["--config", "{file}"], "include \"/nonexistent/actorrelay.conf\"", null, "file not found" },
        { "config file missing", ["--config", "/nonexistent/actorrelay.conf"], null, null, "Configuration file not found" },
        { "no room for a channel", ["--config", "{file}"], "relay.file-descriptors-reserved = 10000000", null, "can hold no channel" },
        { "pool of one port", ["--config", "{file}"], "relay.ports { min = 20000, max = 20000 }", null, "relay.ports 20000-20000 holds one port" },
        { "seeds and bootstrap", ["--seed", "127.0.0.1:4053", "--config", "{file}"], "relay.cluster.bootstrap.enabled = on", null, "not both (empty seed-nodes, or bootstrap off) (from --seed)" },
        { "bootstrap without remoting", ["--config", "{file}"], "relay.cluster.bootstrap.enabled = on\nrelay.remote.enabled = off", null, "relay.cluster.bootstrap.enabled is on but relay.remote.enabled is off" },
        { "unknown option", ["--bogus"], null, null, "Unknown option --bogus" },
        { "bad transport", ["--transport", "carrier-pigeon"], null, null, "--transport" },
        { "bad log level", ["--log-level", "loud"], null, null, "--log-level must be verbose, debug, information, warning or error, got \"loud\"" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_is_refused_with_one_line_naming_it_and_exit_code_1(string name, string[] args, string? fileText, string? env, string expected)
    {
        var file = fileText is null ? null : Path.GetTempFileName();
        try
        {
            if (file is not null) File.WriteAllText(file, fileText);
            var environment = new Dictionary<string, string>();
            if (env is not null) environment[env[..env.IndexOf('=')]] = env[(env.IndexOf('=') + 1)..];
            var arguments = args.Select(a => a.Replace("{file}", file)).ToList();
            if (!arguments.Contains("--remote-port")) arguments.AddRange(["--remote-port", "0"]);
            using var node = new NodeProcess(arguments, environment);
            Assert.True(node.WaitForExit(Start) == 1, $"{name}: exit code 1 expected:\n{node.Output}");
            var lines = node.ErrorLines.Where(l => l.Length > 0).ToList();
            Assert.True(lines.Count == 1, $"{name}: one line on stderr expected, got {lines.Count}:\n{node.Output}");
            Assert.Contains(expected, lines[0]);
            Assert.DoesNotContain("   at ", node.Output);
            Assert.DoesNotContain("All set.", node.Output);
        }
        finally { if (file is not null) File.Delete(file); }
    }

    [Fact]
    public void A_control_port_another_program_listens_on_is_refused_in_one_line()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        using var node = new NodeProcess(["--remote-port", port.ToString()]);
        Assert.Equal(1, node.WaitForExit(Start));
        var line = Assert.Single(node.ErrorLines, l => l.Length > 0);
        Assert.Contains($"relay.remote.port {port} is in use", line);
        Assert.Contains("--remote-port", line);
    }

    [Fact]
    public void A_second_node_on_the_same_journal_is_refused_in_one_line_and_a_crash_leaves_no_stale_lock()
    {
        var data = Directory.CreateTempSubdirectory("actorrelay-shared-journal");
        try
        {
            var shared = new Dictionary<string, string> { ["ACTORRELAY__PERSISTENCE__DATA_DIRECTORY"] = data.FullName };
            using var first = new NodeProcess(["--remote-port", "0"], shared);
            first.WaitForLine(l => l.Contains("All set."), Start);

            using var second = new NodeProcess(["--remote-port", "0"], shared);
            Assert.Equal(1, second.WaitForExit(Start));
            var line = Assert.Single(second.ErrorLines, l => l.Length > 0);
            Assert.Contains("another node process on this host uses the journal", line);
            Assert.Contains("relay.node-name", line);

            // another node name is another journal: it runs beside the first
            using (var named = new NodeProcess(["--remote-port", "0"], new Dictionary<string, string>(shared) { ["ACTORRELAY__NODE_NAME"] = "other" }))
                named.WaitForLine(l => l.Contains("All set."), Start);

            first.Dispose(); // SIGKILL: the kernel drops its lock with it
            using var third = new NodeProcess(["--remote-port", "0"], shared);
            third.WaitForLine(l => l.Contains("All set."), Start);
        }
        finally { data.Delete(recursive: true); }
    }

    [Fact]
    public void A_journal_file_that_is_not_a_database_is_refused_in_one_line_and_left_as_it_is()
    {
        // without the check the node kept restoring: Akka.Persistence.Sql retried the store every second, logged a stack
        // trace each time and the node answered nothing for a minute
        var data = Directory.CreateTempSubdirectory("actorrelay-damaged-journal");
        try
        {
            var file = Path.Combine(data.FullName, "actorrelay-relay.db");
            var junk = new byte[64 * 1024];
            new Random(7).NextBytes(junk);
            File.WriteAllBytes(file, junk);
            using var node = new NodeProcess(["--remote-port", "0"],
                new Dictionary<string, string> { ["ACTORRELAY__PERSISTENCE__DATA_DIRECTORY"] = data.FullName });
            Assert.Equal(1, node.WaitForExit(Start));
            var line = Assert.Single(node.ErrorLines, l => l.Length > 0);
            Assert.Contains($"the journal {file} cannot be read", line);
            Assert.Contains("move it away", line);
            Assert.Equal(junk, File.ReadAllBytes(file));
        }
        finally { data.Delete(recursive: true); }
    }

    // ---- 3. the open-file limit ---------------------------------------------------------------------------------------

    [Fact]
    public void A_node_whose_limit_leaves_no_room_for_a_channel_refuses_to_start()
    {
        // 300 descriptors: the process starts (it holds about 260 with its journal open), but keeps what it holds plus the headroom for itself
        using var node = new NodeProcess(["--remote-port", "0"],
            new Dictionary<string, string> { ["ACTORRELAY__FILE_DESCRIPTORS_RESERVED"] = "0" }, fileLimit: 300);
        Assert.Equal(1, node.WaitForExit(Start));
        Assert.Contains("This node can hold no channel: its open-file limit is 300", node.Output);
        Assert.DoesNotContain("All set.", node.Output);
        Assert.DoesNotContain("   at ", node.Output);
    }

    [Fact]
    public async Task At_its_open_file_limit_the_node_rejects_with_capacity_and_drains_on_sigterm()
    {
        // a low limit and no configured reserve: the node measures what it holds and keeps room to stop
        using var node = new NodeProcess(["--remote-port", "0"], new Dictionary<string, string>
        {
            ["ACTORRELAY__FILE_DESCRIPTORS_RESERVED"] = "0",
            ["ACTORRELAY__PORTS__MIN"] = "13800", ["ACTORRELAY__PORTS__MAX"] = "13999",
        }, fileLimit: 400);
        var capacityLine = node.WaitForLine(l => l.Contains("this node holds at most"), Start);
        var capacity = int.Parse(Regex.Match(capacityLine, @"holds at most (\d+) channels").Groups[1].Value);
        Assert.InRange(capacity, 1, 100); // about (400 - 210 - 64) / 2
        node.WaitForLine(l => l == "All set.", Start);
        using var supervisor = Supervisor();
        try
        {
            var relay = await Relay(supervisor, node);
            object reply;
            var opened = 0;
            while ((reply = await relay.Ask<object>(new OpenChannel($"call-{opened}", SubscribeOpener: false), TimeSpan.FromSeconds(10))) is ChannelOpened)
                opened++;
            var rejected = Assert.IsType<OpenRejected>(reply);
            Assert.True(rejected.Reason == RejectReason.Capacity, // not BindFailed: it stopped before it ran out
                $"after {opened} channels: {rejected}\n{node.Output}");
            Assert.Equal(capacity, opened);
            var status = await relay.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(10));
            Assert.Equal(capacity, status.ChannelsOpen);
        }
        finally { await supervisor.Terminate(); }
        node.Terminate();
        Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("Node drained", node.Output);
        Assert.DoesNotContain("Out of memory", node.Output);
    }

    // ---- 4. native memory -----------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(null, "2")]
    [InlineData("4", "4")]
    public void The_node_runs_with_two_malloc_arenas_unless_the_environment_says_otherwise(string? given, string expected)
    {
        if (!OperatingSystem.IsLinux()) return;
        var env = new Dictionary<string, string> { ["ACTORRELAY__PORTS__MIN"] = "13400", ["ACTORRELAY__PORTS__MAX"] = "13499" };
        if (given is not null) env["MALLOC_ARENA_MAX"] = given;
        using var node = new NodeProcess(["--remote-port", "0"], env);
        node.WaitForLine(l => l == "All set.", Start);
        // started again in place (same process id, arguments and descriptors) with the variable set
        var environ = File.ReadAllText($"/proc/{node.Pid}/environ").Split('\0');
        Assert.Contains($"MALLOC_ARENA_MAX={expected}", environ);
        Assert.Single(environ, v => v.StartsWith("MALLOC_ARENA_MAX=", StringComparison.Ordinal));
        node.Terminate();
        Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public void The_node_started_again_in_place_is_reachable_by_the_runtimes_diagnostics_tools()
    {
        if (!OperatingSystem.IsLinux()) return;
        var env = new Dictionary<string, string> { ["ACTORRELAY__PORTS__MIN"] = "13400", ["ACTORRELAY__PORTS__MAX"] = "13499" };
        using var node = new NodeProcess(["--remote-port", "0"], env);
        node.WaitForLine(l => l == "All set.", Start);
        // what dotnet-counters, dotnet-trace and dotnet-dump connect to: one socket, listened on by the running runtime
        // (the runtime before the restart named its socket the same and left the file behind: connection refused)
        var socket = Assert.Single(Directory.GetFiles(Path.GetTempPath(), $"dotnet-diagnostic-{node.Pid}-*-socket"));
        using (var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream,
                   System.Net.Sockets.ProtocolType.Unspecified))
            client.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(socket));
        node.Terminate();
        Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
    }
}

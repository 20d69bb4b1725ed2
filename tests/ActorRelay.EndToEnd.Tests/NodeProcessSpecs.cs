using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Protocol;
using Npgsql;
using Xunit;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>The built node process, as a user runs it, in both transports.</summary>
public sealed class NodeProcessSpecs
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(30);
    private static int _nextPort = 12000;

    /// <summary>Two fixed ports below the ephemeral range, unique within this run.</summary>
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

    private static Socket Client()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return s;
    }

    private static string Receive(Socket s)
    {
        var buffer = new byte[2048];
        var n = s.Receive(buffer);
        return System.Text.Encoding.ASCII.GetString(buffer, 0, n);
    }

    /// <summary>Latches both sides and relays one datagram each way.</summary>
    private static void RelayBothWays(int left, int right)
    {
        using var a = Client();
        using var b = Client();
        var l = new IPEndPoint(IPAddress.Loopback, left);
        var r = new IPEndPoint(IPAddress.Loopback, right);
        a.SendTo("latch-a"u8, l);
        // b keeps knocking until a hears it: a's latch happened in the node meanwhile (no sleep)
        var deadline = DateTime.UtcNow.AddSeconds(10);
        a.ReceiveTimeout = 200;
        string? heard = null;
        while (heard is null && DateTime.UtcNow < deadline)
        {
            b.SendTo("b-to-a"u8, r);
            try { heard = Receive(a); } catch (SocketException) { }
        }
        Assert.Equal("b-to-a", heard);
        a.SendTo("a-to-b"u8, l);
        string got;
        do { got = Receive(b); } while (got != "a-to-b");
        Assert.Equal("a-to-b", got);
    }

    [Theory]
    [InlineData("socket")]
    [InlineData("akka-io")]
    public void Relays_a_fixed_pair_and_exits_cleanly_on_sigterm(string transport)
    {
        var (left, right) = FreePair();
        using var node = new NodeProcess([$"{left}:{right}", "--transport", transport, "--remote-port", "0"]);
        node.WaitForLine(l => l == "All set.", Start);
        RelayBothWays(left, right);
        node.Terminate();
        Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.Contains("Node drained", node.Output);
        Assert.True(Bindable(left) && Bindable(right), "ports must be free after the node exits");
    }

    [Theory]
    [InlineData("20000", "Usage: ")]
    [InlineData("1:2:3", "Usage: ")]
    [InlineData("abc:20001", "Invalid port number: abc")]
    [InlineData("20000:70000", "Invalid port number: 70000")]
    public void Bad_pairs_print_the_seeds_errors_and_exit_non_zero(string pair, string error)
    {
        using var node = new NodeProcess([pair]);
        Assert.NotEqual(0, node.WaitForExit(Start));
        Assert.Contains(error, node.Output);
    }

    [Fact]
    public void A_port_in_use_fails_with_the_seeds_message()
    {
        var (left, right) = FreePair();
        using var squatter = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        squatter.Bind(new IPEndPoint(IPAddress.IPv6Any, right));
        using var node = new NodeProcess([$"{left}:{right}", "--remote-port", "0"]);
        Assert.NotEqual(0, node.WaitForExit(Start));
        Assert.Contains($"Failed to bind on port {right}", node.Output);
        Assert.True(Bindable(left), "the other side's port must have been released");
    }

    [Fact]
    public void Channels_declared_in_a_config_file_open_at_start_and_environment_overrides_apply()
    {
        var (left, right) = FreePair();
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, $"relay.channels = [ {{ id = \"lobby\", left = {left}, right = {right} }} ]\nrelay.latch.mode = follow\n");
            using var node = new NodeProcess(["--config", file, "--remote-port", "0", "--log-level", "debug"],
                new Dictionary<string, string> { ["ACTORRELAY__LATCH__MODE"] = "first" });
            var open = node.WaitForLine(l => l.Contains("Channel lobby open"), Start);
            Assert.Contains("latch First", open); // the environment beats the file
            node.WaitForLine(l => l == "All set.", Start);
            RelayBothWays(left, right);
            node.Terminate();
            Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public async Task A_supervisor_process_opens_and_closes_channels_over_akka_remote()
    {
        using var node = new NodeProcess(["--remote-port", "0"],
            new Dictionary<string, string> { ["ACTORRELAY__PORTS__MIN"] = "13000", ["ACTORRELAY__PORTS__MAX"] = "13099" });
        var line = node.WaitForLine(l => l.Contains("Supervisors reach this node at"), Start);
        node.WaitForLine(l => l == "All set.", Start);
        var path = Regex.Match(line, @"akka\.tcp://\S+/user/relay").Value;
        Assert.StartsWith("akka.tcp://actor-relay@127.0.0.1:", path); // the control plane listens on loopback unless told otherwise

        using var supervisor = ActorSystem.Create("sip-server", ConfigurationFactory.ParseString(
            "akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }").WithFallback(RelayProtocolSerializer.Config));
        try
        {
            var relay = await supervisor.ActorSelection(path).ResolveOne(TimeSpan.FromSeconds(10));
            var opened = await relay.Ask<ChannelOpened>(new OpenChannel("call-42", SubscribeOpener: false), TimeSpan.FromSeconds(10));
            Assert.InRange(opened.Left.Port, 13000, 13099);
            RelayBothWays(opened.Left.Port, opened.Right.Port);
            var closed = await relay.Ask<ChannelClosed>(new CloseChannel("call-42"), TimeSpan.FromSeconds(10));
            Assert.Equal(CloseReason.Requested, closed.Reason);
            Assert.True(closed.Final.Left.PacketsForwarded >= 1 && closed.Final.Right.PacketsForwarded >= 1);
            var status = await relay.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(10));
            Assert.Equal(status.PortsTotal, status.PortsFree);
        }
        finally
        {
            await supervisor.Terminate();
        }
        node.Terminate();
        Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Bind_advertise_latch_and_remote_host_options_take_effect_and_the_file_limit_is_raised()
    {
        var hard = long.Parse(File.ReadLines("/proc/self/limits").First(l => l.StartsWith("Max open files"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[4]);
        using var node = new NodeProcess(["--bind", "127.0.0.1", "--advertise", "203.0.113.9", "--latch", "rtp",
                "--remote-host", "127.0.0.2", "--remote-port", "0"],
            new Dictionary<string, string> { ["ACTORRELAY__PORTS__MIN"] = "13100", ["ACTORRELAY__PORTS__MAX"] = "13199" },
            softFileLimit: 1024);
        var limits = node.WaitForLine(l => l.Contains("Open files: soft limit"), Start);
        Assert.Contains($"soft limit {hard}, hard limit {hard}", limits);
        var soft = File.ReadLines($"/proc/{node.Pid}/limits").First(l => l.StartsWith("Max open files"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[3];
        Assert.Equal(hard.ToString(), soft);
        var line = node.WaitForLine(l => l.Contains("Supervisors reach this node at"), Start);
        node.WaitForLine(l => l == "All set.", Start);
        var path = Regex.Match(line, @"akka\.tcp://\S+/user/relay").Value;
        Assert.StartsWith("akka.tcp://actor-relay@127.0.0.2:", path);

        using var supervisor = ActorSystem.Create("sip-server", ConfigurationFactory.ParseString(
            "akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }").WithFallback(RelayProtocolSerializer.Config));
        try
        {
            var relay = await supervisor.ActorSelection(path).ResolveOne(TimeSpan.FromSeconds(10));
            var opened = await relay.Ask<ChannelOpened>(new OpenChannel("call-7", SubscribeOpener: false), TimeSpan.FromSeconds(10));
            Assert.Equal("203.0.113.9", opened.Left.Address);   // --advertise
            Assert.Equal("203.0.113.9", opened.Right.Address);
            var snapshot = await relay.Ask<ChannelSnapshot>(new GetChannel("call-7"), TimeSpan.FromSeconds(10));
            Assert.Equal(LatchMode.Rtp, snapshot.LatchMode);     // --latch
            // --bind 127.0.0.1: the port is taken on that address only, so another loopback address can still bind it
            using var other = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            other.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), opened.Left.Port));
            using var same = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            Assert.Throws<SocketException>(() => same.Bind(new IPEndPoint(IPAddress.Loopback, opened.Left.Port)));
        }
        finally
        {
            await supervisor.Terminate();
        }
        node.Terminate();
        Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
    }

    /// <summary>Runs a node on a data directory of the test's own, with the ports of 13300-13399.</summary>
    private static NodeProcess PersistentNode(string data, params string[] extra) =>
        new(["--remote-port", "0", .. extra], new Dictionary<string, string>
        {
            ["ACTORRELAY__PORTS__MIN"] = "13300", ["ACTORRELAY__PORTS__MAX"] = "13399",
            ["ACTORRELAY__PERSISTENCE__DATA_DIRECTORY"] = data,
        });

    private static async Task<IActorRef> NodeRef(ActorSystem supervisor, NodeProcess node)
    {
        var line = node.WaitForLine(l => l.Contains("Supervisors reach this node at"), Start);
        node.WaitForLine(l => l == "All set.", Start);
        return await supervisor.ActorSelection(Regex.Match(line, @"akka\.tcp://\S+/user/relay").Value).ResolveOne(TimeSpan.FromSeconds(10));
    }

    /// <summary>Both clients talk until each has heard the other (latching both sides); then each direction once more.</summary>
    private static void Talk(Socket a, Socket b, ChannelOpened ch, bool latch)
    {
        var l = new IPEndPoint(IPAddress.Loopback, ch.Left.Port);
        var r = new IPEndPoint(IPAddress.Loopback, ch.Right.Port);
        if (latch)
        {
            a.SendTo("latch-a"u8, l);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            a.ReceiveTimeout = 200;
            string? heard = null;
            while (heard is null && DateTime.UtcNow < deadline)
            {
                b.SendTo("latch-b"u8, r);
                try { heard = Receive(a); } catch (SocketException) { }
            }
            Assert.Equal("latch-b", heard);
            a.ReceiveTimeout = 5000;
        }
        a.SendTo("a-to-b"u8, l);
        string got;
        do { got = Receive(b); } while (got != "a-to-b");
        b.SendTo("b-to-a"u8, r);
        do { got = Receive(a); } while (got != "b-to-a");
    }

    [Theory]
    [InlineData("kill")]
    [InlineData("sigterm --keep-channels")]
    public async Task After_a_restart_the_node_brings_its_channels_back_and_media_flows_without_new_signalling(string how)
    {
        var data = Directory.CreateTempSubdirectory("actorrelay-data");
        try
        {
            await RestartWithChannelsAndMedia(data.FullName, how);
            Assert.Single(Directory.EnumerateFiles(data.FullName, "actorrelay-*.db")); // the embedded SQLite journal
        }
        finally { data.Delete(recursive: true); }
    }

    /// <summary>A PostgreSQL connection string; with it set, the restart test also runs with the journal there.</summary>
    private const string PostgresVariable = "ACTORRELAY_TEST_POSTGRES";

    /// <summary>
    /// Optional (skipped unless a second database is named, under CI too). The node gets PostgreSQL through a --config
    /// file alone (provider-name and connection-string of the journal and the snapshot store, as the README says);
    /// each run makes a schema of its own (the connection's search path), dropped at the end.
    /// </summary>
    [SkippableFact]
    public async Task With_the_journal_on_PostgreSQL_a_killed_node_brings_its_channels_back_and_media_flows_without_new_signalling()
    {
        var connection = Environment.GetEnvironmentVariable(PostgresVariable);
        Skip.If(string.IsNullOrWhiteSpace(connection),
            $"optional: set {PostgresVariable} to a PostgreSQL connection string whose user may create a schema " +
            "(e.g. Host=127.0.0.1;Port=5432;Database=relay;Username=relay;Password=...) to run it");

        var schema = $"actorrelay_test_{Guid.NewGuid():N}";
        await Postgres(connection!, $"CREATE SCHEMA {schema}");
        var data = Directory.CreateTempSubdirectory("actorrelay-data");
        try
        {
            var database = Quote(new NpgsqlConnectionStringBuilder(connection) { SearchPath = schema }.ConnectionString);
            var config = Path.Combine(data.FullName, "postgres.conf");
            File.WriteAllText(config, $$"""
                akka.persistence.journal.sql { provider-name = "PostgreSQL.15", connection-string = {{database}} }
                akka.persistence.snapshot-store.sql { provider-name = "PostgreSQL.15", connection-string = {{database}} }
                """);

            await RestartWithChannelsAndMedia(data.FullName, "kill", "--config", config);

            // the journal was PostgreSQL's, not the embedded SQLite file: its tables are in the run's schema, with records
            Assert.Empty(Directory.EnumerateFiles(data.FullName, "*.db"));
            Assert.True(await Postgres(connection!, $"SELECT (SELECT count(*) FROM {schema}.journal) + (SELECT count(*) FROM {schema}.snapshot)") > 0,
                "nothing was recorded in PostgreSQL");
        }
        finally
        {
            data.Delete(recursive: true);
            await Postgres(connection!, $"DROP SCHEMA {schema} CASCADE");
        }
    }

    private static async Task<long> Postgres(string connection, string sql)
    {
        await using var db = new NpgsqlConnection(connection);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db);
        return await command.ExecuteScalarAsync() is long n ? n : 0;
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>
    /// A node on <paramref name="data"/> opens three channels with media flowing and has written its journal; it is
    /// killed (SIGKILL) or stopped with --keep-channels (SIGTERM); the next start brings them back: media flows at once
    /// without new signalling, and the channels are listed with their ports and latches.
    /// </summary>
    private static async Task RestartWithChannelsAndMedia(string data, string how, params string[] config)
    {
        using var supervisor = ActorSystem.Create("sip-server", ConfigurationFactory.ParseString(
            "akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }").WithFallback(RelayProtocolSerializer.Config));
        var clients = new List<(Socket A, Socket B, ChannelOpened Channel)>();
        try
        {
            var keep = how.Contains("--keep-channels");
            using (var first = PersistentNode(data, [.. config, .. keep ? ["--keep-channels"] : Array.Empty<string>()]))
            {
                var node = await NodeRef(supervisor, first);
                // subscribed: a channel tells the node of a latch (which records it) before it publishes the latch, so
                // once the six SideLatched events are in, the journal's backlog below counts every latch record
                var inbox = Inbox.Create(supervisor);
                var latched = new HashSet<(string, Side)>();
                object Next()
                {
                    var m = inbox.Receive(TimeSpan.FromSeconds(10));
                    if (m is SideLatched l) latched.Add((l.ChannelId, l.Side));
                    return m;
                }
                for (var i = 0; i < 3; i++)
                {
                    inbox.Send(node, new OpenChannel($"call-{i}"));
                    ChannelOpened? ch = null;
                    while (ch is null) ch = Next() as ChannelOpened;
                    var (a, b) = (Client(), Client());
                    Talk(a, b, ch, latch: true);
                    clients.Add((a, b, ch));
                }
                while (latched.Count < 6) Next();
                // everything recorded is written (a crash loses at most relay.persistence.flush-after of records)
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
                while ((await node.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(10))).JournalBacklog > 0)
                    Assert.True(DateTime.UtcNow < deadline, "the journal did not write its records");
                if (keep)
                {
                    first.Terminate();
                    Assert.Equal(0, first.WaitForExit(TimeSpan.FromSeconds(20)));
                    Assert.DoesNotContain("Node drained", first.Output); // kept, not closed
                }
                else first.Dispose(); // kill -9: no chance to drain or to record anything more
            }

            using var second = PersistentNode(data, config);
            var restarted = await NodeRef(supervisor, second);
            Assert.True(second.Output.Contains("Channel call-0 restored"), second.Output);
            foreach (var (a, b, ch) in clients) Talk(a, b, ch, latch: false); // the latches came back: no new packets needed first
            var list = await restarted.Ask<ChannelList>(ListChannels.Instance, TimeSpan.FromSeconds(10));
            Assert.Equal(["call-0", "call-1", "call-2"], list.Channels.Select(c => c.ChannelId));
            var snapshot = await restarted.Ask<ChannelSnapshot>(new GetChannel("call-0"), TimeSpan.FromSeconds(10));
            Assert.Equal(((IPEndPoint)clients[0].A.LocalEndPoint!).Port, snapshot.Left.Latched!.Port);
            Assert.Equal(clients[0].Channel.Left.Port, snapshot.Left.Local.Port);
            second.Terminate();
            Assert.Equal(0, second.WaitForExit(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            foreach (var (a, b, _) in clients) { a.Dispose(); b.Dispose(); }
            await supervisor.Terminate();
        }
    }

    [Fact]
    public async Task A_node_stopped_with_sigterm_drains_and_the_next_start_brings_nothing_back()
    {
        var data = Directory.CreateTempSubdirectory("actorrelay-data");
        using var supervisor = ActorSystem.Create("sip-server", ConfigurationFactory.ParseString(
            "akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }").WithFallback(RelayProtocolSerializer.Config));
        try
        {
            using (var first = PersistentNode(data.FullName))
            {
                var node = await NodeRef(supervisor, first);
                await node.Ask<ChannelOpened>(new OpenChannel("call", SubscribeOpener: false), TimeSpan.FromSeconds(10));
                first.Terminate();
                Assert.Equal(0, first.WaitForExit(TimeSpan.FromSeconds(20)));
                Assert.Contains("Node drained", first.Output);
            }
            using var second = PersistentNode(data.FullName);
            var restarted = await NodeRef(supervisor, second);
            Assert.Empty((await restarted.Ask<ChannelList>(ListChannels.Instance, TimeSpan.FromSeconds(10))).Channels);
            second.Terminate();
            Assert.Equal(0, second.WaitForExit(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            await supervisor.Terminate();
            data.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task With_tls_configured_the_node_serves_a_supervisor_holding_a_certificate_of_its_ca_and_no_other()
    {
        var dir = Directory.CreateTempSubdirectory("actorrelay-tls");
        try
        {
            var pki = new TestPki();
            File.WriteAllBytes(Path.Combine(dir.FullName, "node.pfx"), pki.Issue("relay-node").Export(X509ContentType.Pfx, "secret"));
            File.WriteAllText(Path.Combine(dir.FullName, "ca.pem"), pki.CaPem);
            var config = Path.Combine(dir.FullName, "relay.conf");
            File.WriteAllText(config, $$"""
                relay.remote.tls {
                  enabled = on
                  certificate = "{{Path.Combine(dir.FullName, "node.pfx")}}"
                  password = "secret"
                  trusted-ca = "{{Path.Combine(dir.FullName, "ca.pem")}}"
                }
                """);
            using var node = new NodeProcess(["--config", config, "--remote-port", "0"],
                new Dictionary<string, string> { ["ACTORRELAY__PORTS__MIN"] = "13200", ["ACTORRELAY__PORTS__MAX"] = "13299" });
            node.WaitForLine(l => l.Contains("mutual TLS with certificate CN=relay-node"), Start);
            var line = node.WaitForLine(l => l.Contains("Supervisors reach this node at"), Start);
            node.WaitForLine(l => l == "All set.", Start);
            var path = Regex.Match(line, @"akka\.ssl\.tcp://\S+/user/relay").Value;
            Assert.NotEmpty(path);

            using var supervisor = pki.System("sip-server", pki.Issue("sip-server"));
            var relay = await supervisor.ActorSelection(path).ResolveOne(TimeSpan.FromSeconds(10));
            var opened = await relay.Ask<ChannelOpened>(new OpenChannel("secure", SubscribeOpener: false), TimeSpan.FromSeconds(10));
            Assert.InRange(opened.Left.Port, 13200, 13299);

            using var rogue = pki.System("sip-server", pki.SelfMade("sip-server"));
            await Assert.ThrowsAnyAsync<Exception>(() => rogue.ActorSelection(path).ResolveOne(TimeSpan.FromSeconds(3)));
            node.Terminate();
            Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
        }
        finally { dir.Delete(recursive: true); }
    }
}

/// <summary>A private CA for the TLS test: certificates for the node and supervisors, and a supervisor system using one.</summary>
internal sealed class TestPki
{
    private readonly X509Certificate2 _ca;

    public TestPki()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=ActorRelay test CA", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(2));
    }

    public string CaPem => _ca.ExportCertificatePem();

    public X509Certificate2 Issue(string subject) => Make(subject, byCa: true);

    public X509Certificate2 SelfMade(string subject) => Make(subject, byCa: false);

    private X509Certificate2 Make(string subject, bool byCa)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var from = DateTimeOffset.UtcNow.AddDays(-1);
        var until = DateTimeOffset.UtcNow.AddDays(1);
        var cert = byCa
            ? request.Create(_ca, from, until, RandomNumberGenerator.GetBytes(8)).CopyWithPrivateKey(key)
            : request.CreateSelfSigned(from, until);
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }

    public ActorSystem System(string name, X509Certificate2 certificate)
    {
        var config = ConfigurationFactory.ParseString("akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }")
            .WithFallback(ActorRelay.Control.RelayTls.Hocon).WithFallback(RelayProtocolSerializer.Config);
        var trusted = new X509Certificate2Collection { X509CertificateLoader.LoadCertificate(_ca.RawData) };
        return ActorSystem.Create(name, BootstrapSetup.Create().WithConfig(config)
            .And(ActorRelay.Control.RelayTls.Setup(certificate, trusted)));
    }
}

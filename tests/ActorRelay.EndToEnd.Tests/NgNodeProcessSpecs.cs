using System.Collections;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ActorRelay.Ng;
using ActorRelay.NodeProcess;
using Xunit;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>The node process with its NG endpoint (--ng ADDR:PORT), driven as a SIP proxy's rtpengine module drives it.</summary>
public sealed class NgNodeProcessSpecs
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);

    private static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static BDictionary Request(Socket socket, IPEndPoint ng, string cookie, BDictionary body)
    {
        socket.SendTo(NgFraming.Frame(cookie, body), ng);
        var buffer = new byte[65_536];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (!socket.Poll(100_000, SelectMode.SelectRead)) continue;
            var n = socket.Receive(buffer);
            if (NgFraming.Read(buffer.AsSpan(0, n)) is NgRequestFrame f && f.Cookie == cookie) return f.Body;
        }
        throw new TimeoutException($"no NG reply to {cookie}");
    }

    private static string Sdp(int port) =>
        $"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n";

    [Fact]
    public void The_ng_option_lists_each_address_in_relay_ng_listen()
    {
        var options = new NodeOptions([], null, null, null, null, null, null, null, "information", Ng: ["127.0.0.1:2223", "[::1]:2223"]);
        var config = NodeConfiguration.Build(options, new Hashtable());
        Assert.Equal(["127.0.0.1:2223", "[::1]:2223"], config.GetStringList("relay.ng.listen"));
        var none = NodeConfiguration.Build(options with { Ng = null }, new Hashtable());
        Assert.Empty(NgSettings.From(none).Listen);
    }

    [Fact]
    public void With_ng_the_node_serves_offer_answer_and_delete_and_stops_cleanly()
    {
        var ngPort = FreeUdpPort();
        using var node = new NodeProcess(["--ng", $"127.0.0.1:{ngPort}", "--bind", "127.0.0.1", "--remote-port", "0"],
            new Dictionary<string, string> { ["ACTORRELAY__PORTS__MIN"] = "13400", ["ACTORRELAY__PORTS__MAX"] = "13499" });
        node.WaitForLine(l => l.Contains($"NG endpoint listening on udp:127.0.0.1:{ngPort}"), Start);
        node.WaitForLine(l => l == "All set.", Start);
        var ng = new IPEndPoint(IPAddress.Loopback, ngPort);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        Assert.Equal("pong", Text(Request(socket, ng, "p1", BDictionary.Of(("command", "ping"))), "result"));
        var offer = Request(socket, ng, "o1", BDictionary.Of(("command", "offer"), ("call-id", "e2e-1"), ("from-tag", "a"), ("sdp", Sdp(4000))));
        Assert.Equal("ok", Text(offer, "result"));
        Assert.Matches(@"m=audio 134\d\d RTP/AVP 0", Text(offer, "sdp"));
        var answer = Request(socket, ng, "a1", BDictionary.Of(("command", "answer"), ("call-id", "e2e-1"), ("from-tag", "a"), ("to-tag", "b"), ("sdp", Sdp(5000))));
        Assert.Equal("ok", Text(answer, "result"));
        var list = (BList)Request(socket, ng, "l1", BDictionary.Of(("command", "list")))["calls"]!;
        Assert.Equal(["e2e-1"], list.Items.Select(i => ((BString)i).Text));
        Assert.Equal("ok", Text(Request(socket, ng, "d1", BDictionary.Of(("command", "delete"), ("call-id", "e2e-1"), ("from-tag", "a"))), "result"));
        Assert.Empty(((BList)Request(socket, ng, "l2", BDictionary.Of(("command", "list")))["calls"]!).Items);

        node.Terminate();
        Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public void A_second_sigterm_while_the_drain_keeps_the_calls_closes_them_at_once_and_exits_143()
    {
        var ngPort = FreeUdpPort();
        var data = Directory.CreateTempSubdirectory("actorrelay-sigterm-");
        var config = Path.Combine(data.FullName, "node.conf");
        // stopping keeps the calls for up to two minutes
        File.WriteAllText(config, "relay.cluster.drain-keeps-calls = on\nakka.coordinated-shutdown.phases.service-unbind.timeout = 120s\n");
        try
        {
            using var node = new NodeProcess(["--config", config, "--ng", $"127.0.0.1:{ngPort}", "--bind", "127.0.0.1", "--remote-port", "0"],
                new Dictionary<string, string>
                {
                    ["ACTORRELAY__PORTS__MIN"] = "14100", ["ACTORRELAY__PORTS__MAX"] = "14199",
                    ["ACTORRELAY__PERSISTENCE__DATA_DIRECTORY"] = Path.Combine(data.FullName, "data"),
                });
            node.WaitForLine(l => l == "All set.", Start);
            var ng = new IPEndPoint(IPAddress.Loopback, ngPort);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            Assert.Equal("ok", Text(Request(socket, ng, "o1", BDictionary.Of(("command", "offer"), ("call-id", "sigterm-1"), ("from-tag", "a"), ("sdp", Sdp(4000)))), "result"));
            Assert.Equal("ok", Text(Request(socket, ng, "a1", BDictionary.Of(("command", "answer"), ("call-id", "sigterm-1"), ("from-tag", "a"), ("to-tag", "b"), ("sdp", Sdp(5000)))), "result"));

            // the first SIGTERM drains, keeping the call (its RTP and RTCP channels)
            node.Terminate();
            node.WaitForLine(l => l.Contains("Node draining: no new channel; its 2 channels are kept until they end"), TimeSpan.FromSeconds(20));
            // the second one closes them now: the node stops within seconds, not two minutes, and says so by its exit code
            node.Terminate();
            Assert.Equal(143, node.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Contains("closing every channel now", node.Output);
            Assert.Contains("Node draining: closing 2 channels", node.Output);
            Assert.Contains("Node drained: all channels closed, all ports released", node.Output);
        }
        finally
        {
            try { data.Delete(recursive: true); } catch (IOException) { }
        }
    }

    [Theory]
    [InlineData("2223", "relay.ng.listen must be ADDRESS:PORT")]
    [InlineData("localhost:2223", "relay.ng.listen must be ADDRESS:PORT")]
    public void A_malformed_ng_address_fails_before_anything_starts(string address, string error)
    {
        using var node = new NodeProcess(["--ng", address, "--remote-port", "0"]);
        Assert.Equal(1, node.WaitForExit(Start));
        Assert.Contains(error, node.Output);
        Assert.DoesNotContain("All set.", node.Output);
    }

    [Fact]
    public void An_ng_address_in_use_fails_the_start()
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)squatter.LocalEndPoint!).Port;
        using var node = new NodeProcess(["--ng", $"127.0.0.1:{port}", "--remote-port", "0"]);
        Assert.Equal(1, node.WaitForExit(Start));
        Assert.Contains($"cannot listen on udp:127.0.0.1:{port}", node.Output);
    }

    private static string Text(BDictionary d, string key) => d[key] is BString s ? s.Text : throw new KeyNotFoundException($"{key} in {Encoding.Latin1.GetString(Bencode.Encode(d))}");
}

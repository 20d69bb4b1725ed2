using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ActorRelay.Ng;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>
/// Three node processes on 127.0.0.2, .3 and .4 started as the README's Relay cluster section says (one command each,
/// the same --seed), NG offers sent to the first one only: calls land on all three, their answers sent to the other two
/// nodes find them, media flows through each, and after one node is killed (SIGKILL) only its calls are gone and new
/// offers succeed within 10 s.
/// </summary>
public sealed class ClusterNodeProcessSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(90);
    private static readonly string[] Hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

    private static int FreeTcpPort(string host)
    {
        using var l = new TcpListener(IPAddress.Parse(host), 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static int FreeUdpPort(string host)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Parse(host), 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static BDictionary? Request(Socket socket, IPEndPoint ng, string cookie, BDictionary body, TimeSpan wait)
    {
        socket.SendTo(NgFraming.Frame(cookie, body), ng);
        var buffer = new byte[65_536];
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline)
        {
            if (!socket.Poll(100_000, SelectMode.SelectRead)) continue;
            var n = socket.Receive(buffer);
            if (NgFraming.Read(buffer.AsSpan(0, n)) is NgRequestFrame f && f.Cookie == cookie) return f.Body;
        }
        return null;
    }

    private static string Text(BDictionary d, string key) => d[key] is BString s ? s.Text : "";

    private static string Sdp(int port) =>
        $"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n";

    private static IPEndPoint RelayOf(string sdp) => new(
        IPAddress.Parse(Regex.Match(sdp, @"c=IN IP4 ([0-9.]+)").Groups[1].Value),
        int.Parse(Regex.Match(sdp, @"m=audio (\d+)").Groups[1].Value));

    private static byte[] Rtp(ushort seq, uint ssrc)
    {
        var p = new byte[172];
        p[0] = 0x80;
        p[2] = (byte)(seq >> 8); p[3] = (byte)seq;
        var ts = (uint)seq * 160;
        p[4] = (byte)(ts >> 24); p[5] = (byte)(ts >> 16); p[6] = (byte)(ts >> 8); p[7] = (byte)ts;
        p[8] = (byte)(ssrc >> 24); p[9] = (byte)(ssrc >> 16); p[10] = (byte)(ssrc >> 8); p[11] = (byte)ssrc;
        return p;
    }

    /// <summary>A call between two clients on loopback: its answer through the NG endpoint <paramref name="ng"/>, then RTP both ways until each side hears the other.</summary>
    private static void MediaFlows(Socket ngSocket, IPEndPoint ng, string callId, IPEndPoint relayForB, int call)
    {
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        a.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        b.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var answer = Request(ngSocket, ng, $"ans-{callId}", BDictionary.Of(("command", "answer"), ("call-id", callId), ("from-tag", "a"), ("to-tag", "b"),
            ("sdp", Sdp(((IPEndPoint)b.LocalEndPoint!).Port))), TimeSpan.FromSeconds(10))!;
        Assert.Equal("ok", Text(answer, "result"));
        var relayForA = RelayOf(Text(answer, "sdp"));
        Assert.Equal(relayForB.Address, relayForA.Address); // one node holds both of the call's sides
        var buffer = new byte[2048];
        var (heardByA, heardByB) = (false, false);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        for (ushort seq = 1; DateTime.UtcNow < deadline && !(heardByA && heardByB); seq++)
        {
            a.SendTo(Rtp(seq, 0x1000u + (uint)call), relayForA);
            b.SendTo(Rtp(seq, 0x2000u + (uint)call), relayForB);
            if (a.Poll(20_000, SelectMode.SelectRead)) heardByA |= a.Receive(buffer) == 172;
            if (b.Poll(20_000, SelectMode.SelectRead)) heardByB |= b.Receive(buffer) == 172;
        }
        Assert.True(heardByA && heardByB, $"media of {callId} through {relayForA.Address}: A heard {heardByA}, B heard {heardByB}");
    }

    [Fact]
    public void Three_node_processes_take_ng_calls_through_one_and_lose_only_the_killed_nodes_calls()
    {
        var seed = $"{Hosts[0]}:{FreeTcpPort(Hosts[0])}";
        var ngPorts = Hosts.Select(FreeUdpPort).ToArray();
        var ngPort = ngPorts[0];
        var data = Directory.CreateTempSubdirectory("actorrelay-cluster-");
        var nodes = new List<NodeProcess>();
        try
        {
            for (var i = 0; i < Hosts.Length; i++)
            {
                var remotePort = i == 0 ? seed.Split(':')[1] : FreeTcpPort(Hosts[i]).ToString();
                nodes.Add(new NodeProcess(
                    ["--bind", Hosts[i], "--advertise", Hosts[i], "--remote-host", Hosts[i], "--remote-port", remotePort, "--seed", seed,
                     "--ng", $"{Hosts[i]}:{ngPorts[i]}"],
                    new Dictionary<string, string>
                    {
                        ["ACTORRELAY__PORTS__MIN"] = $"{13500 + i * 100}", ["ACTORRELAY__PORTS__MAX"] = $"{13599 + i * 100}",
                        ["ACTORRELAY__PERSISTENCE__DATA_DIRECTORY"] = Path.Combine(data.FullName, $"n{i}"),
                    }));
            }
            foreach (var n in nodes) n.WaitForLine(l => l == "All set.", Start);
            foreach (var n in nodes) n.WaitForLine(l => l.Contains("Leader is moving node") || l.Contains("Welcome from"), Start);

            var ng = new IPEndPoint(IPAddress.Parse(Hosts[0]), ngPort);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

            // offers to the first node only, until every node took calls (each node publishes its load once a second)
            var calls = new Dictionary<string, IPEndPoint>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            for (var i = 0; DateTime.UtcNow < deadline && calls.Values.Select(e => e.Address).Distinct().Count() < 3; i++)
            {
                var offer = Request(socket, ng, $"o{i}", BDictionary.Of(("command", "offer"), ("call-id", $"call-{i}"), ("from-tag", "a"), ("sdp", Sdp(4000 + i))),
                    TimeSpan.FromSeconds(10));
                if (offer is not null && Text(offer, "result") == "ok") calls[$"call-{i}"] = RelayOf(Text(offer, "sdp"));
            }
            output.WriteLine(string.Join(", ", calls.GroupBy(c => c.Value.Address).Select(g => $"{g.Key}: {g.Count()}")));
            Assert.Equal(Hosts, calls.Values.Select(e => e.Address.ToString()).Distinct().Order());

            // each call's answer goes to another node than its offer (the second or the third): it finds the call in the
            // first node's book, and media flows through each node
            var call = 0;
            foreach (var host in Hosts)
            {
                var (id, relay) = calls.First(c => c.Value.Address.ToString() == host);
                MediaFlows(socket, new IPEndPoint(IPAddress.Parse(Hosts[1 + call % 2]), ngPorts[1 + call % 2]), id, relay, call++);
            }

            // the third node is killed: its calls are gone, the others' stay, new offers succeed within 10 s
            var killed = Hosts[2];
            Process.GetProcessById(nodes[2].Pid).Kill();
            var sw = Stopwatch.StartNew();
            var placed = new List<string>();
            for (var i = 0; placed.Count < 3 && sw.Elapsed < TimeSpan.FromSeconds(30); i++)
            {
                var offer = Request(socket, ng, $"after{i}", BDictionary.Of(("command", "offer"), ("call-id", $"after-{i}"), ("from-tag", "a"), ("sdp", Sdp(5000 + i))),
                    TimeSpan.FromSeconds(10));
                if (offer is not null && Text(offer, "result") == "ok")
                {
                    if (placed.Count == 0) output.WriteLine($"first offer after the kill placed after {sw.Elapsed.TotalSeconds:0.0} s");
                    Assert.True(placed.Count > 0 || sw.Elapsed < TimeSpan.FromSeconds(10), $"first offer after the kill took {sw.Elapsed}");
                    placed.Add(RelayOf(Text(offer, "sdp")).Address.ToString());
                }
            }
            Assert.Equal(3, placed.Count);
            Assert.DoesNotContain(killed, placed);
            var survivor = calls.First(c => c.Value.Address.ToString() != killed);
            var query = Request(socket, ng, "q-survivor", BDictionary.Of(("command", "query"), ("call-id", survivor.Key), ("from-tag", "a")), TimeSpan.FromSeconds(10))!;
            Assert.Equal("ok", Text(query, "result"));

            // a SIGTERM drains the first node and it exits 0
            nodes[0].Terminate();
            Assert.Equal(0, nodes[0].WaitForExit(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            foreach (var n in nodes) n.Dispose();
            try { data.Delete(recursive: true); } catch (IOException) { }
        }
    }
}

using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Protocol;
using Xunit;

namespace ActorRelay.EndToEnd.Tests;

/// <summary>
/// Node processes that join the relay cluster through Cluster Bootstrap (relay.cluster.bootstrap) with Akka.Discovery's
/// config method, as the README's Relay cluster section shows: one node that lists only itself forms a cluster alone;
/// two that list each other form one cluster. Addresses 127.0.0.5-7 and ports 25570-25659 are this class's alone.
/// </summary>
public sealed class ClusterBootstrapNodeProcessSpecs
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);

    private sealed record Member(string Host, int RemotePort, int ManagementPort, int PortMin);

    private static string Config(string service, IEnumerable<Member> contactPoints, Member self, int required) => $$"""
        relay.cluster.bootstrap.enabled = on
        relay.ports { min = {{self.PortMin}}, max = {{self.PortMin + 19}} }
        akka.management.http { hostname = "{{self.Host}}", port = {{self.ManagementPort}} }
        akka.discovery {
          method = config
          config.services.{{service}}.endpoints = [{{string.Join(", ", contactPoints.Select(c => $"\"{c.Host}:{c.ManagementPort}\""))}}]
        }
        akka.management.cluster.bootstrap.contact-point-discovery {
          service-name = "{{service}}"
          required-contact-point-nr = {{required}}
          stable-margin = 1s
        }
        """;

    private static NodeProcess StartNode(Member self, string configText, DirectoryInfo data)
    {
        var file = Path.Combine(data.FullName, $"{self.Host}.conf");
        File.WriteAllText(file, configText);
        return new NodeProcess(
            ["--config", file, "--bind", self.Host, "--advertise", self.Host, "--remote-host", self.Host, "--remote-port", self.RemotePort.ToString()],
            new Dictionary<string, string> { ["ACTORRELAY__PERSISTENCE__DATA_DIRECTORY"] = Path.Combine(data.FullName, self.Host) });
    }

    private static ActorSystem Supervisor() => ActorSystem.Create("sip-server", ConfigurationFactory.ParseString(
        "akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }\nakka.loglevel = WARNING")
        .WithFallback(RelayProtocolSerializer.Config));

    /// <summary>Asks the node for its status until its cluster view holds <paramref name="expected"/> members, all up with the relay role.</summary>
    private static async Task<NodeClusterView> ClusterOf(ActorSystem supervisor, NodeProcess node, int expected)
    {
        var line = node.WaitForLine(l => l.Contains("Supervisors reach this node at"), Start);
        var relay = await supervisor.ActorSelection(Regex.Match(line, @"akka\.tcp://\S+/user/relay").Value).ResolveOne(TimeSpan.FromSeconds(10));
        var deadline = DateTime.UtcNow + Start;
        NodeClusterView? view = null;
        while (DateTime.UtcNow < deadline)
        {
            view = (await relay.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(10))).Cluster;
            if (view is not null && view.Members.Count == expected && view.Members.All(m => m.Status == "Up" && m.Roles.Contains("relay")))
                return view;
            await Task.Delay(200); // the next look; the deadline decides
        }
        throw new Xunit.Sdk.XunitException($"cluster view {(view is null ? "none" : string.Join(", ", view.Members))} after {Start}:\n{node.Output}");
    }

    [Fact]
    public async Task A_node_that_discovers_only_itself_forms_a_relay_cluster_alone()
    {
        var self = new Member("127.0.0.5", 25570, 25580, 25600);
        var data = Directory.CreateTempSubdirectory("actorrelay-bootstrap-");
        using var supervisor = Supervisor();
        try
        {
            using var node = StartNode(self, Config("relay-alone", [self], self, required: 1), data);
            node.WaitForLine(l => l.Contains("Joining the relay cluster through Cluster Bootstrap; contact point http://127.0.0.5:25580/"), Start);
            var view = await ClusterOf(supervisor, node, expected: 1);
            Assert.Equal("akka.tcp://actor-relay@127.0.0.5:25570", view.Self);
            Assert.Equal("relay", view.Role);
            Assert.Equal(view.Self, Assert.Single(view.Members).Address);
            node.WaitForLine(l => l.Contains("Initiating new cluster, self-joining"), Start);
            node.Terminate();
            Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            await supervisor.Terminate();
            try { data.Delete(recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task Two_nodes_that_discover_each_other_form_one_relay_cluster()
    {
        Member[] members = [new("127.0.0.6", 25571, 25581, 25620), new("127.0.0.7", 25572, 25582, 25640)];
        var data = Directory.CreateTempSubdirectory("actorrelay-bootstrap-");
        using var supervisor = Supervisor();
        var nodes = new List<NodeProcess>();
        try
        {
            foreach (var m in members) nodes.Add(StartNode(m, Config("relay-pair", members, m, required: 2), data));
            var views = new List<NodeClusterView>();
            foreach (var n in nodes) views.Add(await ClusterOf(supervisor, n, expected: 2));
            var addresses = members.Select(m => $"akka.tcp://actor-relay@{m.Host}:{m.RemotePort}").Order().ToList();
            foreach (var v in views) Assert.Equal(addresses, v.Members.Select(m => m.Address).Order());
            // one cluster formed by one node (the lowest contact point), which the other joined
            Assert.Single(nodes, n => n.Output.Contains("Initiating new cluster, self-joining"));
        }
        finally
        {
            foreach (var n in nodes) n.Dispose();
            await supervisor.Terminate();
            try { data.Delete(recursive: true); } catch (IOException) { }
        }
    }
}

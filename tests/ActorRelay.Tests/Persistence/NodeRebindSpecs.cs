using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ActorRelay.Node;
using ActorRelay.Persistence;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Persistence;

/// <summary>
/// A node that restores channels from its journal answers no command until every restored channel is bound again:
/// its first answer (the node process's <c>All set.</c>) means media flows on all of them.
/// </summary>
public sealed class NodeRebindSpecs(ITestOutputHelper output) : TestKit(ConfigurationFactory.ParseString("""
    relay {
      node-name = "rebind"
      persistence { enabled = on, flush-after = 5ms }
    }
    akka.persistence {
      journal.plugin = "akka.persistence.journal.inmem"
      snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
    }
    """).WithFallback(RelaySettings.DefaultConfig()), output: output)
{
    private const int Channels = 40;

    [Fact]
    public void The_first_answer_of_a_restoring_node_comes_once_every_restored_channel_is_bound()
    {
        var ports = TestPorts.Block(2 * Channels + 20);
        var settings = RelaySettings.From(Sys.Settings.Config) with { PortMin = ports.Min, PortMax = ports.Max, BindAddress = IPAddress.Loopback };

        // what a node wrote before it died: Channels open channels on ports of its pool
        IgnoreMessages<ChannelJournalActor.Written>();
        var journal = ChildActorOf(ChannelJournalActor.Props(settings));
        Assert.Empty(ExpectMsg<JournalRecovered>(TimeSpan.FromSeconds(10)).Channels);
        var openedAt = DateTimeOffset.UtcNow;
        for (var i = 0; i < Channels; i++)
            journal.Tell(new ChannelJournalActor.Record(new ChannelRecorded($"call-{i}", new OpenChannel($"call-{i}", SubscribeOpener: false),
                ports.Min + 2 * i, ports.Min + 2 * i + 1, null, openedAt)));
        journal.Tell(ChannelJournalActor.FlushNow.Instance);
        ExpectMsg<ChannelJournalActor.Flushed>(TimeSpan.FromSeconds(10));
        Watch(journal);
        Sys.Stop(journal);
        ExpectTerminated(journal, TimeSpan.FromSeconds(10));

        // the node restarts on that journal; its first answer already counts every channel as opened (bound)
        var node = Sys.ActorOf(RelayNodeActor.Props(settings), "relay");
        node.Tell(GetNodeStatus.Instance, TestActor);
        var status = ExpectMsg<NodeStatus>(TimeSpan.FromSeconds(30));
        Assert.Equal(Channels, status.ChannelsOpen);
        Assert.Equal(Channels, status.ChannelsOpened);
        for (var i = 0; i < Channels; i++)
        {
            node.Tell(new GetChannel($"call-{i}"), TestActor);
            var snapshot = ExpectMsg<ChannelSnapshot>(TimeSpan.FromSeconds(5));
            Assert.Equal(ChannelState.Open, snapshot.State);
            Assert.Equal(ports.Min + 2 * i, snapshot.Left.Local.Port);
        }
    }
}

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
        var openedAt = DateTimeOffset.UtcNow;
        WriteJournal(settings, Enumerable.Range(0, Channels).Select(i => (JournalEntry)new ChannelRecorded($"call-{i}",
            new OpenChannel($"call-{i}", SubscribeOpener: false), ports.Min + 2 * i, ports.Min + 2 * i + 1, null, openedAt)));

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

    [Fact]
    public void A_node_that_comes_back_with_room_for_fewer_channels_brings_back_the_oldest_and_closes_the_rest_with_reason_capacity()
    {
        // a node held 10 channels; it restarts with relay.max-channels 4 (or an open-file limit that leaves room for 4):
        // binding all 10 would take descriptors the process needs for itself
        const int held = 10, room = 4;
        var ports = TestPorts.Block(2 * held + 20);
        var settings = RelaySettings.From(Sys.Settings.Config) with { PortMin = ports.Min, PortMax = ports.Max, BindAddress = IPAddress.Loopback };
        var listener = CreateTestProbe();
        var listenerPath = listener.Ref.Path.ToStringWithAddress(((ExtendedActorSystem)Sys).Provider.DefaultAddress);

        RecordChannels(settings, ports, held, listenerPath);

        var node = Sys.ActorOf(RelayNodeActor.Props(settings with { MaxChannels = room }), "relay-room");
        node.Tell(GetNodeStatus.Instance, TestActor);
        var status = ExpectMsg<NodeStatus>(TimeSpan.FromSeconds(30));
        Assert.Equal(room, status.ChannelsOpen);
        Assert.Equal(held - room, status.ClosedByReason.GetValueOrDefault(CloseReason.Capacity));

        // the listeners hear why the others are gone; the oldest four are the ones back
        var closed = Enumerable.Range(0, held - room).Select(_ => listener.ExpectMsg<ChannelClosed>(TimeSpan.FromSeconds(10))).ToList();
        Assert.All(closed, c => Assert.Equal(CloseReason.Capacity, c.Reason));
        Assert.Equal(Enumerable.Range(room, held - room).Select(i => $"call-{i}").Order(), closed.Select(c => c.ChannelId).Order());
        for (var i = 0; i < held; i++)
        {
            node.Tell(new GetChannel($"call-{i}"), TestActor);
            if (i < room) Assert.Equal(ChannelState.Open, ExpectMsg<ChannelSnapshot>(TimeSpan.FromSeconds(5)).State);
            else ExpectMsg<ChannelNotFound>(TimeSpan.FromSeconds(5));
        }

        // forgotten in the journal (once written: a node stopped within relay.persistence.flush-after loses what was not):
        // with room again, only the four come back
        AwaitAssert(() =>
        {
            node.Tell(GetNodeStatus.Instance, TestActor);
            Assert.Equal(0, ExpectMsg<NodeStatus>(TimeSpan.FromSeconds(5)).JournalBacklog);
        }, TimeSpan.FromSeconds(10));
        Assert.Equal(room, StopAndStartAgain(node, settings, "relay-again").ChannelsOpen);
    }

    [Fact]
    public void A_node_with_room_for_no_channel_keeps_what_its_journal_holds_for_a_start_with_room()
    {
        // the node process stops such a node at once ("This node can hold no channel"): a start with a wrong open-file
        // limit must not cost the calls the journal holds
        const int held = 6;
        var ports = TestPorts.Block(2 * held + 20);
        var settings = RelaySettings.From(Sys.Settings.Config) with { PortMin = ports.Min, PortMax = ports.Max, BindAddress = IPAddress.Loopback };
        var listener = CreateTestProbe();
        RecordChannels(settings, ports, held, listener.Ref.Path.ToStringWithAddress(((ExtendedActorSystem)Sys).Provider.DefaultAddress));

        var cramped = Sys.ActorOf(RelayNodeActor.Props(settings, channelLimit: 0), "relay-cramped");
        cramped.Tell(GetNodeStatus.Instance, TestActor);
        var status = ExpectMsg<NodeStatus>(TimeSpan.FromSeconds(30));
        Assert.Equal(0, status.ChannelsOpen);
        Assert.DoesNotContain(status.ClosedByReason, c => c.Value > 0);
        listener.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // nobody is told a call closed
        Assert.Equal(held, StopAndStartAgain(cramped, settings, "relay-roomy").ChannelsOpen);
    }

    [Fact]
    public void A_channel_whose_port_the_journal_names_twice_is_closed_with_reason_side_failed_and_leaks_no_port()
    {
        // one file written by two nodes (what the journal's lock now prevents) names a port twice: the channel recorded
        // second takes its left port, cannot take its right one, and must give the left one back
        var ports = TestPorts.Block(20);
        var settings = RelaySettings.From(Sys.Settings.Config) with { PortMin = ports.Min, PortMax = ports.Max, BindAddress = IPAddress.Loopback };
        var listener = CreateTestProbe();
        var listenerPath = listener.Ref.Path.ToStringWithAddress(((ExtendedActorSystem)Sys).Provider.DefaultAddress);
        var start = DateTimeOffset.UtcNow;
        WriteJournal(settings, [
            new ChannelRecorded("first", new OpenChannel("first", SubscribeOpener: false), ports.Min, ports.Min + 1, null, start.AddSeconds(-2)),
            new ChannelRecorded("second", new OpenChannel("second", SubscribeOpener: false), ports.Min + 2, ports.Min + 1, null, start.AddSeconds(-1)),
            new ListenersRecorded("second", [listenerPath], null)]);

        var node = Sys.ActorOf(RelayNodeActor.Props(settings), "relay-twice");
        node.Tell(GetNodeStatus.Instance, TestActor);
        var status = ExpectMsg<NodeStatus>(TimeSpan.FromSeconds(30));
        Assert.Equal(1, status.ChannelsOpen);
        Assert.Equal(status.PortsTotal - 2, status.PortsFree); // the first channel's two, not the second's left one
        Assert.Equal(1, status.ClosedByReason.GetValueOrDefault(CloseReason.SideFailed));
        var closed = listener.ExpectMsg<ChannelClosed>(TimeSpan.FromSeconds(10));
        Assert.Equal(("second", CloseReason.SideFailed), (closed.ChannelId, closed.Reason));
    }

    /// <summary>What a node wrote before it died: <paramref name="count"/> channels on ports of the block, opened a second
    /// apart (recorded newest first: a node orders them by when they opened), each with <paramref name="listener"/> subscribed.</summary>
    private void RecordChannels(RelaySettings settings, (int Min, int Max) ports, int count, string listener)
    {
        var start = DateTimeOffset.UtcNow;
        WriteJournal(settings, Enumerable.Range(0, count).Reverse().SelectMany(i => new JournalEntry[]
        {
            new ChannelRecorded($"call-{i}", new OpenChannel($"call-{i}", SubscribeOpener: false), ports.Min + 2 * i, ports.Min + 2 * i + 1,
                null, start.AddSeconds(i - count)),
            new ListenersRecorded($"call-{i}", [listener], null),
        }));
    }

    /// <summary>Stops <paramref name="node"/> and starts another on the same journal: its first answer.</summary>
    private NodeStatus StopAndStartAgain(IActorRef node, RelaySettings settings, string name)
    {
        Watch(node);
        Sys.Stop(node);
        ExpectTerminated(node, TimeSpan.FromSeconds(10));
        var again = Sys.ActorOf(RelayNodeActor.Props(settings), name);
        again.Tell(GetNodeStatus.Instance, TestActor);
        return ExpectMsg<NodeStatus>(TimeSpan.FromSeconds(30));
    }

    /// <summary>Writes <paramref name="entries"/> to the journal of a node with <paramref name="settings"/>, as that node
    /// would have before it died, and stops the journal.</summary>
    private void WriteJournal(RelaySettings settings, IEnumerable<JournalEntry> entries)
    {
        IgnoreMessages<ChannelJournalActor.Written>();
        var journal = ChildActorOf(ChannelJournalActor.Props(settings));
        Assert.Empty(ExpectMsg<JournalRecovered>(TimeSpan.FromSeconds(10)).Channels);
        foreach (var entry in entries) journal.Tell(new ChannelJournalActor.Record(entry));
        journal.Tell(ChannelJournalActor.FlushNow.Instance);
        ExpectMsg<ChannelJournalActor.Flushed>(TimeSpan.FromSeconds(10));
        Watch(journal);
        Sys.Stop(journal);
        ExpectTerminated(journal, TimeSpan.FromSeconds(10));
    }
}

using System.Net;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ActorRelay.Channels;
using ActorRelay.Node;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Channels;

public sealed class CompactMessageQueueTests
{
    private static Envelope E(int i) => new(i, ActorRefs.NoSender);

    private static List<object> Drain(CompactMessageQueue q)
    {
        var list = new List<object>();
        while (q.TryDequeue(out var e)) list.Add(e.Message);
        return list;
    }

    [Fact]
    public void First_in_first_out_across_growth_and_wrap_around()
    {
        var q = new CompactMessageQueue();
        Assert.False(q.HasMessages);
        for (var i = 0; i < 3; i++) q.Enqueue(ActorRefs.Nobody, E(i));
        Assert.True(q.TryDequeue(out var first));
        Assert.Equal(0, first.Message);
        for (var i = 3; i < 40; i++) q.Enqueue(ActorRefs.Nobody, E(i)); // wraps, then grows twice
        Assert.Equal(39, q.Count);
        Assert.Equal(Enumerable.Range(1, 39).Cast<object>(), Drain(q));
        Assert.False(q.HasMessages);
        Assert.Equal(0, q.Count);
    }

    [Fact]
    public void Enqueue_first_puts_unstashed_messages_ahead_in_order()
    {
        var q = new CompactMessageQueue();
        q.Enqueue(ActorRefs.Nobody, E(10));
        q.Enqueue(ActorRefs.Nobody, E(11));
        // the stash prepends its messages last-first, so they come out in their original order
        q.EnqueueFirst(E(2));
        q.EnqueueFirst(E(1));
        Assert.Equal(new object[] { 1, 2, 10, 11 }, Drain(q));
    }

    [Fact]
    public void Many_producers_lose_nothing()
    {
        var q = new CompactMessageQueue();
        Parallel.For(0, 4, p => { for (var i = 0; i < 10_000; i++) q.Enqueue(ActorRefs.Nobody, E(p * 10_000 + i)); });
        var all = Drain(q).Cast<int>().ToList();
        Assert.Equal(40_000, all.Count);
        Assert.Equal(40_000, all.Distinct().Count());
        // each producer's messages stay in its order
        for (var p = 0; p < 4; p++)
        {
            var mine = all.Where(x => x / 10_000 == p).ToList();
            Assert.Equal(mine.Order(), mine);
        }
    }

    [Fact]
    public void Clean_up_hands_what_is_left_to_dead_letters()
    {
        var q = new CompactMessageQueue();
        var dead = new CompactMessageQueue();
        q.Enqueue(ActorRefs.Nobody, E(1));
        q.Enqueue(ActorRefs.Nobody, E(2));
        q.CleanUp(ActorRefs.Nobody, dead);
        Assert.False(q.HasMessages);
        Assert.Equal(new object[] { 1, 2 }, Drain(dead));
    }
}

/// <summary>Channels and sides run on the compact mailbox, also in a system that was not given hocon/relay.conf.</summary>
public sealed class CompactMailboxSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public async Task A_node_in_a_system_without_the_relay_config_opens_channels_on_compact_mailboxes()
    {
        var ports = TestPorts.Block(4);
        var settings = RelaySettings.From(Sys.Settings.Config) with { PortMin = ports.Min, PortMax = ports.Max, BindAddress = IPAddress.Loopback };
        var node = Sys.ActorOf(RelayNodeActor.Props(settings), "relay");
        var opened = Assert.IsType<ChannelOpened>(await node.Ask<object>(new OpenChannel("c", SubscribeOpener: false), TimeSpan.FromSeconds(5)));
        var channel = (ActorRefWithCell)opened.Channel;
        Assert.IsType<CompactMessageQueue>(((ActorCell)channel.Underlying).Mailbox!.MessageQueue);
        Assert.Equal(2, channel.Children.Count());
        foreach (var side in channel.Children.Cast<ActorRefWithCell>())
            Assert.IsType<CompactMessageQueue>(((ActorCell)side.Underlying).Mailbox!.MessageQueue);
        Assert.IsType<ChannelClosed>(await node.Ask<object>(new CloseChannel("c"), TimeSpan.FromSeconds(5)));
    }
}

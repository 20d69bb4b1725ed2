using Akka.Actor;
using Akka.TestKit;
using ActorRelay.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Node;

/// <summary>
/// Every command gets exactly one reply, whatever state the channel (opening, open, closing, closed) or the node
/// (running, draining) is in: each command is sent from a probe of its own, right after what moves the channel into
/// the state, and each probe must hear one reply of the command's reply types and nothing else.
/// </summary>
public sealed class CommandMatrixSpecs(ITestOutputHelper output) : RelayNodeSpecsBase("socket", output)
{
    private const string Id = "matrix";

    /// <summary>Each command with the replies it may get (a rejection or ChannelNotFound included).</summary>
    private (object Command, Type[] Replies)[] Commands(IActorRef listener) =>
    [
        (new OpenChannel(Id, SubscribeOpener: false), [typeof(ChannelOpened), typeof(OpenRejected)]),
        (new GetChannel(Id), [typeof(ChannelSnapshot), typeof(ChannelNotFound)]),
        (new ResignalSide(Id, Side.Left), [typeof(SideResignalled), typeof(ChannelNotFound)]),
        (new Subscribe(Id, listener), [typeof(Subscribed), typeof(ChannelNotFound)]),
        (new Unsubscribe(Id, listener), [typeof(Unsubscribed), typeof(ChannelNotFound)]),
        (new Subscribe(null, listener), [typeof(Subscribed)]),
        (new Unsubscribe(null, listener), [typeof(Unsubscribed)]),
        (ListChannels.Instance, [typeof(ChannelList)]),
        (new ListChannels(Id, 1), [typeof(ChannelList)]),
        (new ListChannels(Limit: 0), [typeof(CommandRejected)]),
        (GetNodeStatus.Instance, [typeof(NodeStatus)]),
        (GetRuntimeStats.Instance, [typeof(RuntimeStats)]),
        (new CloseChannel("no-such-channel"), [typeof(ChannelNotFound)]),
        ("not a command", [typeof(CommandRejected)]),
    ];

    /// <summary>Sends every command (and, when given, a close of the channel last) from probes of their own; each hears exactly one reply.</summary>
    private async Task EveryCommandIsAnsweredOnce(string state, bool closeToo = false)
    {
        var listener = CreateTestProbe(); // only ever a subscriber, never a sender: what it hears are events
        var sent = Commands(listener.Ref).Select(c => (c.Command, c.Replies, Probe: CreateTestProbe())).ToList();
        if (closeToo) sent.Add((new CloseChannel(Id), [typeof(ChannelClosed), typeof(ChannelNotFound)], CreateTestProbe()));
        foreach (var (command, _, probe) in sent) Node.Tell(command, probe.Ref);
        foreach (var (command, replies, probe) in sent)
        {
            var reply = await probe.ReceiveOneAsync(Wait) ?? throw new Xunit.Sdk.XunitException($"{state}: no reply to {command}");
            Assert.True(replies.Contains(reply.GetType()), $"{state}: {command} got {reply}");
        }
        await Task.WhenAll(sent.Select(s => s.Probe.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300)).AsTask()));
    }

    [Fact]
    public async Task Every_command_is_answered_once_while_the_channel_opens_is_open_closes_and_is_gone_and_while_the_node_drains()
    {
        Node.Tell(new OpenChannel(Id, SubscribeOpener: false), TestActor);
        await EveryCommandIsAnsweredOnce("opening");   // sent while the sides bind: the channel answers once it is open
        await ExpectMsgAsync<ChannelOpened>(Wait);

        await EveryCommandIsAnsweredOnce("open");

        Node.Tell(new CloseChannel(Id), TestActor);
        await EveryCommandIsAnsweredOnce("closing");   // right behind the close: the channel is closing its sides
        await ExpectMsgAsync<ChannelClosed>(Wait);

        await EveryCommandIsAnsweredOnce("closed");

        await OpenAsync("another");
        Node.Tell(DrainNode.Instance, TestActor);
        await EveryCommandIsAnsweredOnce("draining", closeToo: true);
        await FishForMessageAsync<NodeDrained>(_ => true, Wait);
        await EveryCommandIsAnsweredOnce("drained");
    }
}

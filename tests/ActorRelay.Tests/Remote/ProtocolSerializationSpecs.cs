using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ActorRelay.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Remote;

/// <summary>
/// Every public protocol message survives the serializer Akka.Remote uses for it, field for field (records compare
/// by value; dictionaries are compared by content). The remote supervisor specs prove the same over a real wire.
/// The system is configured as a supervisor in another process would be: remoting plus RelayProtocolSerializer.Config.
/// </summary>
public sealed class ProtocolSerializationSpecs(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString("akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }")
        .WithFallback(RelayProtocolSerializer.Config), output: output)
{
    private object RoundTrip(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<RelayProtocolSerializer>(serializer);
        var bytes = serializer.ToBinary(message);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        return Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
    }

    private static readonly RelayEndpoint Left = new("203.0.113.1", 20000), Right = new("2001:db8::1", 20001);

    private SideSnapshot Side(Side side) => new(side, Left, Right, 10, 1720, 9, 1548,
        new Dictionary<DropReason, long> { [DropReason.ForeignSource] = 3, [DropReason.Probation] = 1 }, 2, DateTimeOffset.UnixEpoch.AddDays(20000));

    public static IEnumerable<object[]> Plain() => new object[][]
    {
        [new OpenChannel("c", new SideRequest(20000, "127.0.0.1", "198.51.100.0/24"), new SideRequest(), new ChannelOptions(LatchMode.Rtp,
            TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30), TimeSpan.FromHours(1), TimeSpan.FromSeconds(3), 4), false)],
        [new OpenChannel("minimal")],
        [new OpenRejected("c", RejectReason.PortsExhausted, "no free port")],
        [new CloseChannel("c")], [new GetChannel("c")], [ListChannels.Instance], [new ListChannels("call-41/a/1", 20)], [new ListChannels(Limit: 5)], [GetNodeStatus.Instance], [GetRuntimeStats.Instance], [new GetRuntimeStats(CollectGarbage: true)],
        [new ChannelNotFound("c")], [new CommandRejected("X", RejectReason.InvalidRequest, "unknown")],
        [new ResignalSide("c", Protocol.Side.Right, "[2001:db8::1]:4000")], [new SideResignalled("c", Protocol.Side.Left)],
        [new Subscribed("c")], [new Subscribed(null)], [new Unsubscribed(null)],
        [new SideLatched("c", Protocol.Side.Left, Left)], [new SourceChanged("c", Protocol.Side.Left, Left, Right)],
        [new ChannelTimedOut("c", CloseReason.SetupTimeout, TimeSpan.FromSeconds(30))],
        [new LocateNgCall("a84b4c76e66710@pc33.example.com")], [new NgCallLocated("a84b4c76e66710@pc33.example.com", true)],
        [new RuntimeStats(1234.5, 1, 2, 3, 4.5, 1 << 30, 1 << 27, 2)], [new RuntimeStats(1, 0, 0, 0, 0, 0, 0, 2, 12_345_678)],
    };

    [Theory]
    [MemberData(nameof(Plain))]
    public void Plain_messages_round_trip_equal(object message) => Assert.Equal(message, RoundTrip(message));

    [Fact]
    public void Messages_with_actor_refs_and_collections_round_trip_by_content()
    {
        var channel = Sys.ActorOf(Props.Empty, "channel");
        Assert.Equal(new ChannelOpened("c", Left, Right, channel), RoundTrip(new ChannelOpened("c", Left, Right, channel)));
        Assert.Equal(new Subscribe("c", channel), RoundTrip(new Subscribe("c", channel)));
        Assert.Equal(new Unsubscribe(null, channel), RoundTrip(new Unsubscribe(null, channel)));

        var snapshot = new ChannelSnapshot("c", ChannelState.Open, LatchMode.First, DateTimeOffset.UnixEpoch.AddDays(20000), Side(Protocol.Side.Left), Side(Protocol.Side.Right));
        var back = Assert.IsType<ChannelSnapshot>(RoundTrip(snapshot));
        AssertSnapshot(snapshot, back);
        var closed = Assert.IsType<ChannelClosed>(RoundTrip(new ChannelClosed("c", CloseReason.IdleTimeout, "idle", snapshot)));
        Assert.Equal((CloseReason.IdleTimeout, "idle"), (closed.Reason, closed.Message));
        AssertSnapshot(snapshot, closed.Final);

        var dropped = Assert.IsType<PacketsDropped>(RoundTrip(new PacketsDropped("c", Protocol.Side.Right,
            new Dictionary<DropReason, long> { [DropReason.UnexpectedSource] = 5 }, new Dictionary<DropReason, long> { [DropReason.UnexpectedSource] = 7 })));
        Assert.Equal(5, dropped.SinceLast[DropReason.UnexpectedSource]);
        Assert.Equal(7, dropped.Total[DropReason.UnexpectedSource]);

        var list = Assert.IsType<ChannelList>(RoundTrip(new ChannelList([new ChannelSummary("c", ChannelState.Open, Left, Right, channel)])));
        Assert.Equal(new ChannelSummary("c", ChannelState.Open, Left, Right, channel), Assert.Single(list.Channels));
        Assert.Null(list.NextAfter);
        var page = Assert.IsType<ChannelList>(RoundTrip(new ChannelList([new ChannelSummary("c", ChannelState.Open, Left, Right, channel)], "c")));
        Assert.Equal("c", page.NextAfter);
        Assert.Equal(new ListChannelsFor(channel, "c", 7), RoundTrip(new ListChannelsFor(channel, "c", 7)));

        // an NG request and its reply cross as their bencoded bytes
        var forward = Assert.IsType<ForwardNgCommand>(RoundTrip(new ForwardNgCommand("call", "d7:command5:querye"u8.ToArray())));
        Assert.Equal("call", forward.CallId);
        Assert.Equal("d7:command5:querye"u8.ToArray(), forward.Body);
        var forwarded = Assert.IsType<ForwardedNgReply>(RoundTrip(new ForwardedNgReply("call", "d6:result2:oke"u8.ToArray())));
        Assert.Equal("d6:result2:oke"u8.ToArray(), forwarded.Reply);

        var status = Assert.IsType<NodeStatus>(RoundTrip(new NodeStatus(1, 9744, 5,
            new Dictionary<CloseReason, long> { [CloseReason.Requested] = 4 }, new Dictionary<RejectReason, long> { [RejectReason.Capacity] = 2 }, 100, 102, "socket")));
        Assert.Equal((1, 9744, 5L, 100, 102, "socket"), (status.ChannelsOpen, status.Capacity, status.ChannelsOpened, status.PortsFree, status.PortsTotal, status.Transport));
        Assert.Equal(4, status.ClosedByReason[CloseReason.Requested]);
        Assert.Equal(2, status.RejectionsByReason[RejectReason.Capacity]);
    }

    [Fact]
    public void Every_protocol_message_type_is_bound_to_the_protocol_serializer()
    {
        var messages = typeof(IRelayMessage).Assembly.GetTypes()
            .Where(t => t.IsPublic && !t.IsInterface && typeof(IRelayMessage).IsAssignableFrom(t)).ToList();
        Assert.True(messages.Count >= 25, $"{messages.Count} message types");
        Assert.All(messages, t => Assert.IsType<RelayProtocolSerializer>(Sys.Serialization.FindSerializerForType(t)));
    }

    [Fact]
    public void Hocon_relay_conf_registers_the_serializer_as_supervisors_are_told_to()
    {
        var shipped = ActorRelay.Settings.RelaySettings.DefaultConfig();
        var supervisor = RelayProtocolSerializer.Config;
        const string serializer = "akka.actor.serializers.actor-relay-protocol";
        Assert.Equal(supervisor.GetString(serializer), shipped.GetString(serializer));
        // the protocol's bindings are the same (relay.conf also binds the node's own journal records, which supervisors never see)
        Assert.Equal(supervisor.GetConfig("akka.actor.serialization-bindings").AsEnumerable().Select(kv => (kv.Key, kv.Value.GetString())),
            shipped.GetConfig("akka.actor.serialization-bindings").AsEnumerable().Select(kv => (kv.Key, kv.Value.GetString()))
                .Where(b => b.Item2 == "actor-relay-protocol"));
    }

    [Fact]
    public void Unknown_manifests_and_foreign_objects_are_refused()
    {
        var serializer = (RelayProtocolSerializer)Sys.Serialization.FindSerializerForType(typeof(OpenChannel));
        // what cannot be read reaches the node as UnreadableMessage (so it can answer), never as an instance of a named type
        Assert.Equal("System.IO.FileInfo", Assert.IsType<UnreadableMessage>(serializer.FromBinary("{}"u8.ToArray(), "System.IO.FileInfo")).Manifest);
        Assert.IsType<UnreadableMessage>(serializer.FromBinary("{not json"u8.ToArray(), nameof(OpenChannel)));
        Assert.Throws<ArgumentException>(() => serializer.ToBinary(ActorRelay.Channels.CloseWithReason.NodeStopping));
    }

    private static void AssertSnapshot(ChannelSnapshot expected, ChannelSnapshot actual)
    {
        Assert.Equal(expected with { Left = actual.Left, Right = actual.Right }, actual);
        foreach (var (e, a) in new[] { (expected.Left, actual.Left), (expected.Right, actual.Right) })
        {
            Assert.Equal(e with { Dropped = a.Dropped }, a);
            Assert.Equal(e.Dropped.OrderBy(p => p.Key), a.Dropped.OrderBy(p => p.Key));
        }
    }
}

using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Node;
using ActorRelay.Protocol;

namespace ActorRelay.Control;

/// <summary>
/// The largest <see cref="ChannelList"/> page a node serves: as many channels as fit one Akka.Remote frame in the worst
/// case, measured through the system's own serializer. The worst channel has an id of the longest length the node
/// accepts written in the characters JSON escapes longest, IPv6 endpoints of the longest text, and a channel ref with
/// the node's own address and the longest child name and uid. A page of them takes at most <see cref="FrameShare"/> of
/// the frame: the rest is for Akka.Remote's envelope (recipient and sender paths, manifest) and for the refs of a cluster
/// member whose address is longer than this node's.
/// </summary>
public static class ChannelListBound
{
    /// <summary>Akka.Remote's default akka.remote.dot-netty.tcp.maximum-frame-size, in bytes.</summary>
    public const int DefaultFrameSize = 128_000;

    /// <summary>The share of the frame a page's channels and cursor may take.</summary>
    public const double FrameShare = 0.75;

    /// <summary>akka.remote.dot-netty.tcp.maximum-frame-size of the configuration (Akka.Remote's default when it is not set).</summary>
    public static int FrameSize(Config config)
    {
        const string key = "akka.remote.dot-netty.tcp.maximum-frame-size";
        var size = config.HasPath(key) ? config.GetByteSize(key) : null;
        return size is > 0 and <= int.MaxValue ? (int)size.Value : DefaultFrameSize;
    }

    /// <summary>The most channels a page of the node at <paramref name="node"/> holds, in <paramref name="system"/>.</summary>
    public static int MaxPage(ActorSystem system, ActorPath node) => MaxPage(system, node, FrameSize(system.Settings.Config));

    /// <summary>The most channels a page holds within <paramref name="frameSize"/>, at least 1.</summary>
    public static int MaxPage(ActorSystem system, ActorPath node, int frameSize)
    {
        var (perChannel, fixedPart) = Measure(system, node);
        return Math.Max(1, (int)((frameSize * FrameShare - fixedPart) / perChannel));
    }

    /// <summary>The bytes one worst channel adds to a page, and the bytes of a page's own fields (the cursor included).</summary>
    public static (int PerChannel, int Fixed) Measure(ActorSystem system, ActorPath node)
    {
        var worst = WorstChannel(system, node);
        var one = Size(system, new ChannelList([worst], worst.ChannelId));
        var two = Size(system, new ChannelList([worst, worst], worst.ChannelId));
        return (two - one, one - (two - one));
    }

    /// <summary>The bytes <paramref name="list"/> takes through the system's serializer for it.</summary>
    public static int Size(ActorSystem system, ChannelList list) =>
        system.Serialization.FindSerializerForType(typeof(ChannelList)).ToBinary(list).Length;

    /// <summary>The channel whose entry in a page is the longest the node at <paramref name="node"/> can write.</summary>
    public static ChannelSummary WorstChannel(ActorSystem system, ActorPath node)
    {
        var root = new RootActorPath(node.Address.HasGlobalScope ? node.Address : ((ExtendedActorSystem)system).Provider.DefaultAddress);
        var path = (root / node.Elements / $"channel-{long.MaxValue}").WithUid(long.MinValue + 1); // the longest uid text (Akka cannot write long.MinValue)
        var channel = new EmptyLocalActorRef(((ExtendedActorSystem)system).Provider, path, system.EventStream);
        // the character JSON writes longest (an escape), of those an id may hold
        var id = new[] { "\u0001", "\u00e9", "\u2028", "<", "\"" }
            .Select(c => string.Concat(Enumerable.Repeat(c, ChannelPlanner.MaxChannelIdLength)))
            .MaxBy(candidate => Size(system, new ChannelList([], candidate)))!;
        var endpoint = new RelayEndpoint("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%4294967295", 65535);
        var state = Enum.GetValues<ChannelState>().MaxBy(s => s.ToString().Length);
        return new ChannelSummary(id, state, endpoint, endpoint, channel);
    }
}

using System.Text;
using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Protocol;

namespace ActorRelay.Fuzz;

// The relay protocol's serializer on what arrives off the wire, in an ActorSystem configured as a node is (remoting,
// the relay's serializer), so actor refs resolve as they would in a node.
public static partial class FuzzTargets
{
    private static readonly Lazy<(RelayProtocolSerializer Serializer, string[] Manifests)> Protocol = new(() =>
    {
        var system = ActorSystem.Create("fuzz", ConfigurationFactory.ParseString("""
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
            akka.loglevel = ERROR
            akka.stdout-loglevel = ERROR
            """).WithFallback(RelayProtocolSerializer.Config));
        var manifests = typeof(IRelayMessage).Assembly.GetTypes()
            .Where(t => t.IsPublic && !t.IsInterface && typeof(IRelayMessage).IsAssignableFrom(t))
            .Select(t => t.Name).Order(StringComparer.Ordinal).ToArray();
        return (new RelayProtocolSerializer((ExtendedActorSystem)system), manifests);
    });

    /// <summary>Builds the ActorSystem before the first input, so that its start-up is not timed as an input.</summary>
    public static void WarmUp() => _ = Protocol.Value;

    private static readonly string[] Foreign = ["", "UnreadableMessage", "System.IO.FileInfo", "openchannel", "OpenChannel "];

    /// <summary>First byte: the manifest (modulo the protocol's names followed by a few that are not); the rest: the bytes.</summary>
    private static void Serializer(ReadOnlySpan<byte> data)
    {
        var (serializer, manifests) = Protocol.Value;
        var pick = data.IsEmpty ? 0 : data[0] % (manifests.Length + Foreign.Length);
        var manifest = pick < manifests.Length ? manifests[pick] : Foreign[pick - manifests.Length];
        var bytes = data.IsEmpty ? [] : data[1..].ToArray();
        // read twice, the second time measured: the first read of a type builds and caches its metadata
        var read = serializer.FromBinary(bytes, manifest);
        Bounded(bytes.Length, 128 * 1024, 64, $"FromBinary({manifest})", () => serializer.FromBinary(bytes, manifest));
        Check(read is not null, "FromBinary returns something");
        if (read is UnreadableMessage u)
        {
            Check(u.Manifest == manifest, "an unreadable message names its manifest");
            return;
        }
        Check(read.GetType().Name == manifest, $"a {read.GetType().Name} read under the manifest {manifest}");
        // what was read writes JSON that reads back to the same message: a fixpoint from the second round on, because an
        // actor path Akka cannot parse resolves to a local ref whose own path then resolves to dead letters
        // ("akka.tcp://x/user/y" -> "akka://fuzz/" -> "akka://fuzz/deadLetters")
        byte[] written;
        try
        {
            written = serializer.ToBinary(read);
        }
        catch (OverflowException) when (read is ChannelSnapshot or ChannelClosed)
        {
            return; // SideSnapshot.PacketsDropped adds the drop counters up: counters read off the wire can overflow the sum
        }
        var second = serializer.ToBinary(serializer.FromBinary(written, manifest));
        var again = serializer.FromBinary(second, manifest);
        Check(again.GetType() == read.GetType(), "what was read reads back as the same type");
        Check(serializer.ToBinary(again).AsSpan().SequenceEqual(second),
            $"what was read writes the same JSON from the second round on: {Encoding.UTF8.GetString(second)}");
    }

    /// <summary>JSON punctuation and the protocol's property and enum names, quoted as JSON has them.</summary>
    private static IReadOnlyList<string> SerializerTokens => typeof(IRelayMessage).Assembly.GetTypes()
        .Where(t => t.Namespace == typeof(IRelayMessage).Namespace && t.IsPublic)
        .SelectMany(t => t.IsEnum ? Enum.GetNames(t) : t.GetProperties().Select(p => p.Name))
        .Distinct().Select(n => $"\"{n}\"")
        .Concat(["{", "}", "[", "]", ":", ",", "null", "true", "false", "\"\"", "-1", "1e400", "0.5", "\"00:00:03\"", "\"2024-01-01T00:00:00+01:00\"",
            "\"akka.tcp://fuzz@127.0.0.1:1/user/x#1\"", "\"akka://fuzz/user/x\"", "\\u0000", "\\ud800"])
        .ToArray();

    private static IEnumerable<byte[]> SerializerSeeds()
    {
        var (serializer, manifests) = Protocol.Value;
        var endpoint = new RelayEndpoint("203.0.113.1", 20000);
        var side = new SideSnapshot(Side.Left, endpoint, endpoint, 1, 2, 3, 4, new Dictionary<DropReason, long> { [DropReason.Probation] = 3 }, 1, DateTimeOffset.UnixEpoch);
        var snapshot = new ChannelSnapshot("c", ChannelState.Open, LatchMode.Auto, DateTimeOffset.UnixEpoch, side, side);
        object[] messages =
        [
            new OpenChannel("c", new SideRequest(20000, "127.0.0.1", "198.51.100.0/24", true), new SideRequest(),
                new ChannelOptions(LatchMode.Rtp, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30), TimeSpan.FromHours(1), TimeSpan.FromSeconds(3), 4), false),
            new CloseChannel("c"), new ResignalSide("c", Side.Right, "[2001:db8::1]:4000"), new GetRuntimeStats(true), ListChannels.Instance, new ListChannels("call-41/a/1", 20),
            snapshot, new ChannelClosed("c", CloseReason.IdleTimeout, "idle", snapshot),
            new NodeStatus(1, 2, 3, new Dictionary<CloseReason, long> { [CloseReason.Requested] = 1 }, new Dictionary<RejectReason, long>(), 4, 5, "socket"),
            new PacketsDropped("c", Side.Left, new Dictionary<DropReason, long> { [DropReason.Empty] = 1 }, new Dictionary<DropReason, long> { [DropReason.Empty] = 2 }),
            new ChannelTimedOut("c", CloseReason.SetupTimeout, TimeSpan.FromSeconds(30)), new RuntimeStats(1.5, 1, 2, 3, 4.5, 5, 6, 2, 7),
        ];
        foreach (var m in messages)
            yield return [(byte)Array.IndexOf(manifests, m.GetType().Name), .. serializer.ToBinary(m)];
        yield return [(byte)Array.IndexOf(manifests, nameof(ChannelList)), .. Encoding.UTF8.GetBytes(
            "{\"Channels\":[{\"ChannelId\":\"c\",\"State\":\"Open\",\"Left\":{\"Address\":\"::1\",\"Port\":1},\"Right\":null,\"Channel\":\"akka.tcp://fuzz@127.0.0.1:1/user/x#5\"}],\"NextAfter\":\"c\"}")];
    }
}

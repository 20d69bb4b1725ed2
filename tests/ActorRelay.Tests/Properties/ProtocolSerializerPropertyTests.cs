using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Protocol;
using CsCheck;
using Xunit;

namespace ActorRelay.Tests.Properties;

/// <summary>An ActorSystem configured as a node or a supervisor is (remoting on loopback, the relay's serializer), with a few actors to refer to.</summary>
public sealed class SerializerSystem : IDisposable
{
    public SerializerSystem()
    {
        System = ActorSystem.Create("serializer-properties",
            ConfigurationFactory.ParseString("akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }\nakka.loglevel = WARNING")
                .WithFallback(RelayProtocolSerializer.Config));
        Serializer = new RelayProtocolSerializer((ExtendedActorSystem)System);
        Refs = Enumerable.Range(0, 3).Select(i => System.ActorOf(Props.Empty, $"actor-{i}")).ToArray();
    }

    public ActorSystem System { get; }
    public RelayProtocolSerializer Serializer { get; }
    public IActorRef[] Refs { get; }

    public void Dispose() => System.Terminate().Wait(TimeSpan.FromSeconds(10));
}

/// <summary>
/// <see cref="RelayProtocolSerializer"/> on what arrives off the wire: any bytes under any manifest give a message of the
/// manifest's type or an <see cref="UnreadableMessage"/>, never an exception, with work bounded by the input's size; and every
/// generated message of every type comes back equal (records field by field, collections by content).
/// </summary>
public sealed class ProtocolSerializerPropertyTests(SerializerSystem fixture) : IClassFixture<SerializerSystem>
{
    private readonly RelayProtocolSerializer _serializer = fixture.Serializer;

    public static TheoryData<string> MessageTypes() => new(ProtocolMessages.Types.Select(t => t.Name));

    [Fact]
    public void The_generators_cover_every_message_type_of_the_protocol()
    {
        Assert.True(ProtocolMessages.Types.Length >= 25, $"{ProtocolMessages.Types.Length} message types");
        foreach (var type in ProtocolMessages.Types)
            Assert.IsType(type, ProtocolMessages.For(type, fixture.Refs).Single());
    }

    [Theory]
    [MemberData(nameof(MessageTypes))]
    public void Every_generated_message_round_trips_by_content(string name)
    {
        var type = ProtocolMessages.Types.Single(t => t.Name == name);
        var byValue = !ProtocolMessages.HoldsCollections(type); // records without collections also compare equal as records
        ProtocolMessages.For(type, fixture.Refs).Sample(message =>
        {
            var manifest = _serializer.Manifest(message);
            Assert.Equal(name, manifest);
            var back = _serializer.FromBinary(_serializer.ToBinary(message), manifest);
            Assert.IsType(type, back);
            Assert.Null(ProtocolMessages.SameContent(message, back));
            if (byValue) Assert.Equal(message, back);
        }, iter: 200, print: m => Encoding.UTF8.GetString(_serializer.ToBinary(m)));
    }

    private static readonly string[] Manifests = ProtocolMessages.Types.Select(t => t.Name).ToArray();

    private static readonly Gen<string> AnyManifest = Gen.Frequency(
        (6, Gen.OneOf(Manifests)),
        (1, Gen.OneOf(Manifests).Select(m => m.ToLowerInvariant())),
        (1, Gen.OneOf(Manifests).Select(m => "ActorRelay.Protocol." + m)),
        (1, Gen.OneOf("", " ", "UnreadableMessage", "System.IO.FileInfo, System.IO", "Akka.Actor.PoisonPill", "IRelayMessage", "OpenChannel\0")),
        (1, ProtocolMessages.Text));

    private Gen<byte[]> Input => Gen.Frequency(
        (2, Gen.Byte.Array[0, 300]),
        (3, ProtocolMessages.Json.Select(j => Encoding.UTF8.GetBytes(j?.ToJsonString() ?? "null"))),
        (4, Gen.OneOf(ProtocolMessages.Types).SelectMany(t => ProtocolMessages.For(t, fixture.Refs)).Select(_serializer.ToBinary).SelectMany(ProtocolMessages.Mutated)),
        (1, Gen.Int[1, 2000].Select(n => Encoding.UTF8.GetBytes(new string('[', n) + new string(']', n)))),
        (1, Gen.Int[1, 2000].Select(n => Encoding.UTF8.GetBytes("{\"ChannelId\":" + new string('{', n)))));

    [Fact]
    public void Any_bytes_under_any_manifest_give_a_message_of_that_type_or_an_unreadable_one_never_an_exception()
    {
        Gen.Select(AnyManifest, Input).Sample((manifest, bytes) =>
        {
            var read = _serializer.FromBinary(bytes, manifest);
            Assert.NotNull(read);
            if (read is UnreadableMessage u) Assert.Equal(manifest, u.Manifest);
            else Assert.Equal(manifest, read.GetType().Name);
        }, iter: 6000, print: t => $"{t.Item1}: {Convert.ToHexString(t.Item2)} ({Encoding.UTF8.GetString(t.Item2)})");
    }

    [Fact]
    public void Reading_allocates_at_most_a_bounded_multiple_of_the_input()
    {
        // Allocation stands for work here (wall time is not measured): what a reader allocates grows with what it reads,
        // so a bound linear in the input's size rules out a blow-up from attacker-controlled lengths or nesting.
        const long Fixed = 128 * 1024, PerByte = 64;
        foreach (var type in ProtocolMessages.Types) // warm up: the first read of each type builds its metadata
            _serializer.FromBinary(_serializer.ToBinary(ProtocolMessages.For(type, fixture.Refs).Single()), type.Name);
        Gen.Select(Gen.OneOf(Manifests), Gen.Frequency((5, Input), (1, Gen.Int[1, 64 * 1024].Select(n => Encoding.UTF8.GetBytes($"{{\"ChannelId\":\"{new string('x', n)}\"}}"))))).Sample((manifest, bytes) =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            _serializer.FromBinary(bytes, manifest);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated <= Fixed + PerByte * bytes.Length, $"{allocated} bytes allocated to read {bytes.Length} bytes as {manifest}");
        }, iter: 1000, threads: 1, print: t => $"{t.Item1}: {t.Item2.Length} bytes");
    }

    [Fact]
    public void A_well_formed_message_under_another_types_manifest_is_that_type_or_unreadable()
    {
        Gen.Select(Gen.OneOf(ProtocolMessages.Types).SelectMany(t => ProtocolMessages.For(t, fixture.Refs)), Gen.OneOf(Manifests)).Sample((message, manifest) =>
        {
            var read = _serializer.FromBinary(_serializer.ToBinary(message), manifest);
            Assert.True(read is UnreadableMessage || read.GetType().Name == manifest, $"{read.GetType().Name} for {manifest}");
        }, iter: 1500, print: t => $"{t.Item2}: {JsonNode.Parse(_serializer.ToBinary(t.Item1))}");
    }
}

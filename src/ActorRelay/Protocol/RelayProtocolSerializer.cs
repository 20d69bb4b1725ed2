using System.Collections.Frozen;
using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;

namespace ActorRelay.Protocol;

/// <summary>
/// How the relay's protocol crosses Akka.Remote: System.Text.Json, each message named by a short manifest (its type
/// name) from a fixed list, never by a type name read off the wire, and actor refs as their serialized paths. Akka's
/// default for plain objects, Newtonsoft.Json, took about 40 % of a node's CPU while supervisors opened channels
/// over the wire (docs/benchmarks.md). Registered by hocon/relay.conf for <see cref="IRelayMessage"/>; a supervisor
/// in another process registers it too, with <see cref="Config"/> (or hocon/relay.conf, or <c>WithActorRelayProtocol()</c>).
/// </summary>
public sealed class RelayProtocolSerializer : SerializerWithStringManifest
{
    /// <summary>The serializer's id on the wire (Akka reserves 0-100).</summary>
    public const int Id = 4053;

    /// <summary>
    /// The configuration a supervisor in another process needs to talk to a node: the same two settings as the
    /// <c>akka.actor</c> section of hocon/relay.conf (a test keeps them equal).
    /// </summary>
    public static Config Config { get; } = ConfigurationFactory.ParseString("""
        akka.actor {
          serializers.actor-relay-protocol = "ActorRelay.Protocol.RelayProtocolSerializer, ActorRelay"
          serialization-bindings { "ActorRelay.Protocol.IRelayMessage, ActorRelay" = actor-relay-protocol }
        }
        """);

    private static readonly FrozenDictionary<string, Type> Types = typeof(IRelayMessage).Assembly.GetTypes()
        .Where(t => t.IsPublic && !t.IsInterface && typeof(IRelayMessage).IsAssignableFrom(t))
        .ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);

    private readonly JsonSerializerOptions _options;

    public RelayProtocolSerializer(ExtendedActorSystem system) : base(system)
    {
        _options = new JsonSerializerOptions
        {
            Converters = { new JsonStringEnumConverter(), new ActorRefConverter(system) },
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };
    }

    public override int Identifier => Id;

    public override string Manifest(object o) => o.GetType().Name;

    public override byte[] ToBinary(object obj)
    {
        if (obj is not IRelayMessage || !Types.ContainsKey(obj.GetType().Name))
            throw new ArgumentException($"{obj.GetType()} is not a relay protocol message", nameof(obj));
        return JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), _options);
    }

    /// <summary>
    /// Reads a message. What cannot be read (an unknown name, malformed JSON, a missing field) becomes an
    /// <see cref="UnreadableMessage"/> instead of an exception, so the node can answer its sender with a rejection
    /// rather than Akka.Remote dropping it with only a log line.
    /// </summary>
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out var type))
            return new UnreadableMessage(manifest, $"\"{manifest}\" is not a message of the relay's protocol");
        try
        {
            return JsonSerializer.Deserialize(bytes, type, _options) ?? new UnreadableMessage(manifest, "empty message");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or InvalidOperationException or FormatException)
        {
            return new UnreadableMessage(manifest, $"malformed {manifest}: {e.Message}");
        }
    }

    /// <summary>
    /// For a node process: messages arriving over Akka.Remote are read only by the relay's serializer. Akka's default
    /// serializer for plain objects (Newtonsoft.Json, id 1) reads a type name off the wire and instantiates it; this
    /// configuration puts <see cref="RemoteJsonRefusal"/> in its place, which reads nothing and hands the node an
    /// <see cref="UnreadableMessage"/> to refuse. Not applied where an application hosts the relay in its own system.
    /// </summary>
    public static Config NodeOnlyConfig { get; } = ConfigurationFactory.ParseString("""
        akka.actor.serializers.json = "ActorRelay.Protocol.RemoteJsonRefusal, ActorRelay"
        """);

    /// <summary>Actor refs as their full serialized path (with the remote address when sent over the wire).</summary>
    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        // A ref names the sender's actors, or, in a relay cluster, a supervisor's actor that may live in the reader's
        // own system (a supervisor hosted beside a relay node, its TestKit probes under /system included): every ref is
        // resolved as written. The node sends such refs only events and replies, and authorizes by sender system.
        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetString() is { } path ? system.Provider.ResolveActorRef(path) : ActorRefs.Nobody;

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Akka.Serialization.Serialization.SerializedActorPath(value));
    }
}

/// <summary>
/// What a serializer could not read, handed to the receiving actor instead of being dropped: the node answers its
/// sender with <see cref="CommandRejected"/> (reason <see cref="RejectReason.Unreadable"/>) and logs it.
/// </summary>
public sealed record UnreadableMessage(string Manifest, string Reason);

/// <summary>
/// Takes the place of Akka's Newtonsoft.Json serializer (identifier 1) in a relay node process (see
/// <see cref="RelayProtocolSerializer.NodeOnlyConfig"/>): it never reads a type name off the wire, so no object
/// outside the relay's protocol can be made to exist in the node by a message. What arrives through it becomes an
/// <see cref="UnreadableMessage"/>; nothing in a node process serializes with it.
/// </summary>
public sealed class RemoteJsonRefusal : SerializerWithStringManifest
{
    public RemoteJsonRefusal(ExtendedActorSystem system) : base(system) { }

    /// <summary>Akka passes the settings of the serializer this one replaces (akka.actor.serialization-settings.json).</summary>
    public RemoteJsonRefusal(ExtendedActorSystem system, Config settings) : base(system) { }

    /// <summary>Newtonsoft.Json's identifier: what a supervisor without the relay's serializer sends with.</summary>
    public override int Identifier => 1;

    // A string-manifest serializer: Akka hands the manifest over as text and resolves no type from it.
    public override string Manifest(object o) => "";

    public override byte[] ToBinary(object obj) =>
        throw new SerializationException($"{obj.GetType()} has no serializer in a relay node: only the relay's protocol crosses the wire");

    public override object FromBinary(byte[] bytes, string manifest) =>
        new UnreadableMessage(string.IsNullOrEmpty(manifest) ? "(Newtonsoft.Json)" : manifest,
            "the node reads messages only with the relay's protocol serializer (RelayProtocolSerializer); register it in the supervisor");
}

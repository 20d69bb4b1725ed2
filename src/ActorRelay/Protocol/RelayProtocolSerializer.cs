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

    public override object FromBinary(byte[] bytes, string manifest) =>
        Types.TryGetValue(manifest, out var type)
            ? JsonSerializer.Deserialize(bytes, type, _options) ?? throw new SerializationException($"empty {manifest}")
            : throw new SerializationException($"unknown relay protocol message \"{manifest}\"");

    /// <summary>Actor refs as their full serialized path (with the remote address when sent over the wire).</summary>
    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetString() is { } path ? system.Provider.ResolveActorRef(path) : ActorRefs.Nobody;

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Akka.Serialization.Serialization.SerializedActorPath(value));
    }
}

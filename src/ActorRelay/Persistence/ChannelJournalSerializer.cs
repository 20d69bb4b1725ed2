using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace ActorRelay.Persistence;

/// <summary>
/// How the channel journal's batches and snapshots are stored: System.Text.Json, named from a fixed list (like the
/// protocol's serializer), so a journal row can never name a type to create. Bound in hocon/relay.conf.
/// </summary>
public sealed class ChannelJournalSerializer : SerializerWithStringManifest
{
    public const int Id = 4055;

    private static readonly FrozenDictionary<string, Type> Types = new Dictionary<string, Type>
    {
        ["batch"] = typeof(JournalBatch),
        ["snapshot"] = typeof(ChannelBookSnapshot),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly JsonSerializerOptions Options = new()
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public ChannelJournalSerializer(ExtendedActorSystem system) : base(system) { }

    public override int Identifier => Id;

    public override string Manifest(object o) => o switch
    {
        JournalBatch => "batch",
        ChannelBookSnapshot => "snapshot",
        _ => throw new ArgumentException($"{o.GetType()} is not a channel journal record", nameof(o)),
    };

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Options);

    public override object FromBinary(byte[] bytes, string manifest) =>
        Types.TryGetValue(manifest, out var type)
            ? JsonSerializer.Deserialize(bytes, type, Options) ?? throw new System.Runtime.Serialization.SerializationException($"empty {manifest}")
            : throw new System.Runtime.Serialization.SerializationException($"\"{manifest}\" is not a channel journal record");
}

using System.Collections;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using ActorRelay.Protocol;
using CsCheck;

namespace ActorRelay.Tests.Properties;

/// <summary>
/// Generators for every message of the relay's protocol, built from the message types themselves (each record's public
/// constructor, parameter by parameter; null only where the parameter is nullable), so that a message type added later is
/// generated too; and a comparison by content (records field by field, dictionaries and lists by their entries).
/// </summary>
public static class ProtocolMessages
{
    /// <summary>What the serializer names: every public, non-interface <see cref="IRelayMessage"/> type of the assembly.</summary>
    public static readonly Type[] Types = typeof(IRelayMessage).Assembly.GetTypes()
        .Where(t => t.IsPublic && !t.IsInterface && typeof(IRelayMessage).IsAssignableFrom(t))
        .OrderBy(t => t.Name, StringComparer.Ordinal).ToArray();

    /// <summary>Text of any valid UTF-16 (control characters, quotes, backslashes, non-Latin letters, astral characters).</summary>
    public static readonly Gen<string> Text = Gen.Frequency(
        (4, Gen.Char['\0', '\uD7FF'].Array[0, 24].Select(cs => new string(cs))),
        (2, Gen.Char['a', 'z'].Array[0, 12].Select(cs => new string(cs))),
        (1, Gen.OneOf("", "call-42@host", "\"quoted\" \\ back/slash", "ünïcødé ☎ 𝄞 😀", "\u0000\u001f\u007f", "[2001:db8::1]:4000", new string('x', 300))));

    private static readonly NullabilityInfoContext Nullability = new();

    public static Gen<object> For(Type type, IActorRef[] refs) => Value(type, refs, nullable: false)!.Select(v => v!);

    private static Gen<object?> Value(Type type, IActorRef[] refs, bool nullable)
    {
        var gen = NonNull(type, refs);
        return nullable ? Gen.Frequency((1, Gen.Const((object?)null)), (3, gen)) : gen;
    }

    private static Gen<object?> NonNull(Type type, IActorRef[] refs)
    {
        if (Nullable.GetUnderlyingType(type) is { } underlying) return Value(underlying, refs, nullable: true);
        if (type == typeof(string)) return Text.Select(s => (object?)s);
        if (type == typeof(bool)) return Gen.Bool.Select(b => (object?)b);
        if (type == typeof(int)) return Gen.Frequency((3, Gen.Int[-5, 70_000]), (1, Gen.Int)).Select(i => (object?)i);
        if (type == typeof(uint)) return Gen.UInt.Select(u => (object?)u);
        if (type == typeof(long)) return Gen.Frequency((3, Gen.Long[-5, 1L << 40]), (1, Gen.Long)).Select(l => (object?)l);
        if (type == typeof(double)) return Gen.Double.Where(double.IsFinite).Select(d => (object?)d);
        if (type == typeof(TimeSpan)) return Gen.Frequency((3, Gen.Long[0, TimeSpan.TicksPerDay]), (1, Gen.Long)).Select(t => (object?)TimeSpan.FromTicks(t));
        if (type == typeof(DateTimeOffset)) return Gen.DateTimeOffset.Select(d => (object?)d);
        if (type.IsEnum)
        {
            var values = Enum.GetValues(type).Cast<object?>().ToArray();
            return Gen.Int[0, values.Length - 1].Select(i => values[i]);
        }
        if (type == typeof(IActorRef)) return Gen.Int[0, refs.Length - 1].Select(i => (object?)refs[i]);
        // bytes (a forwarded NG request's body): small arrays; left to the constructor rule below, byte[]'s constructor
        // took any int as a length and allocated up to 2 GB per case
        if (type == typeof(byte[])) return Gen.Byte.Array[0, 64].Select(b => (object?)b);
        if (type.IsArray) throw new NotSupportedException($"no generator for {type}: add one");
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>))
        {
            var (key, value) = (type.GetGenericArguments()[0], type.GetGenericArguments()[1]);
            var keys = Enum.GetValues(key).Cast<object>().ToArray();
            // counters (a snapshot's PacketsDropped adds them up: beyond 2^50 each, the sum could overflow, which no node reports)
            var values = value == typeof(long) ? Gen.Long[0, 1L << 50].Select(l => (object?)l) : Value(value, refs, false);
            return Gen.Select(Gen.Int[0, (1 << keys.Length) - 1], values.Array[keys.Length], (mask, values) =>
            {
                var d = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(key, value))!;
                for (var k = 0; k < keys.Length; k++)
                    if ((mask & (1 << k)) != 0) d.Add(keys[k], values[k]);
                return (object?)d;
            });
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
        {
            var item = type.GetGenericArguments()[0];
            return Value(item, refs, false).Array[0, 4].Select(items =>
            {
                var array = Array.CreateInstance(item, items.Length);
                for (var k = 0; k < items.Length; k++) array.SetValue(items[k], k);
                return (object?)array;
            });
        }
        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault()
                          ?? throw new NotSupportedException($"no public constructor on {type}");
        var parameters = constructor.GetParameters();
        var gens = parameters.Select(p => Value(p.ParameterType, refs,
            !p.ParameterType.IsValueType && Nullability.Create(p).WriteState == NullabilityState.Nullable)).ToArray();
        return gens.Aggregate(Gen.Const(Array.Empty<object?>()), (all, next) => Gen.Select(all, next, (a, x) => a.Append(x).ToArray()))
            .Select(args => (object?)constructor.Invoke(args));
    }

    /// <summary>Whether a type's values hold a collection anywhere (records compare those by reference: use <see cref="SameContent"/>).</summary>
    public static bool HoldsCollections(Type type) =>
        type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type)
        || type.Namespace == typeof(IRelayMessage).Namespace && !type.IsEnum
           && type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Any(p => p.PropertyType != type && HoldsCollections(p.PropertyType));

    /// <summary>Null when both values hold the same content, else where they differ first.</summary>
    public static string? SameContent(object? expected, object? actual, string path = "")
    {
        if (expected is null || actual is null) return expected is null && actual is null ? null : $"{path}: {expected ?? "null"} vs {actual ?? "null"}";
        if (expected.GetType() != actual.GetType() && !(expected is IEnumerable && actual is IEnumerable))
            return $"{path}: a {expected.GetType().Name} became a {actual.GetType().Name}";
        switch (expected)
        {
            case string or bool or byte or int or long or uint or double or TimeSpan or Enum or IActorRef:
                return expected.Equals(actual) ? null : $"{path}: {expected} vs {actual}";
            case DateTimeOffset d:
                return d.EqualsExact((DateTimeOffset)actual) ? null : $"{path}: {d:O} vs {actual:O}";
            case IDictionary e:
                var a = (IDictionary)actual;
                if (e.Count != a.Count) return $"{path}: {e.Count} entries vs {a.Count}";
                foreach (DictionaryEntry entry in e)
                {
                    if (!a.Contains(entry.Key)) return $"{path}[{entry.Key}]: missing";
                    if (SameContent(entry.Value, a[entry.Key], $"{path}[{entry.Key}]") is { } why) return why;
                }
                return null;
            case IEnumerable e:
                var (xs, ys) = (e.Cast<object?>().ToList(), ((IEnumerable)actual).Cast<object?>().ToList());
                if (xs.Count != ys.Count) return $"{path}: {xs.Count} items vs {ys.Count}";
                for (var k = 0; k < xs.Count; k++)
                    if (SameContent(xs[k], ys[k], $"{path}[{k}]") is { } why) return why;
                return null;
        }
        foreach (var p in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0) continue;
            if (SameContent(p.GetValue(expected), p.GetValue(actual), $"{path}.{p.Name}") is { } why) return why;
        }
        return null;
    }

    // ---- malformed input ----------------------------------------------------------------------------------------

    private static readonly string[] Names = Types
        .SelectMany(t => t.GetProperties().Select(p => p.Name).Append(t.Name))
        .Concat(Enum.GetNames<DropReason>()).Concat(Enum.GetNames<LatchMode>()).Distinct().ToArray();

    /// <summary>JSON values of every kind, with the protocol's own property names and enum names as keys and strings.</summary>
    public static readonly Gen<JsonNode?> Json = Gen.Recursive<JsonNode?>((depth, inner) => Gen.Frequency(
        (2, Gen.Const((JsonNode?)null)),
        (2, Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b))),
        (3, Gen.Frequency((3, Gen.Long[-3, 70_000]), (1, Gen.Long)).Select(l => (JsonNode?)JsonValue.Create(l))),
        (1, Gen.Double.Where(double.IsFinite).Select(d => (JsonNode?)JsonValue.Create(d))),
        (3, Gen.Frequency((3, Gen.OneOf(Names)), (2, Text), (1, Gen.OneOf("00:00:03", "-10675199.02:48:05.4775808", "1.00:00:00.0000001", "2024-02-30T00:00:00Z",
            "9999-12-31T23:59:59.9999999-14:00", "0001-01-01T00:00:00+14:00", "akka://x/user/y", "akka.tcp://actor-relay@127.0.0.1:99999/user/relay#1",
            "akka.tcp://a@[::1]:1/user", "akka://", "akka.tcp://x@host:-1/a", "#", "7", "-1", "1e400", "NaN"))).Select(s => (JsonNode?)JsonValue.Create(s))),
        (depth < 4 ? 2 : 0, inner.Array[0, 4].Select(items => (JsonNode?)new JsonArray(items))),
        (depth < 4 ? 3 : 0, Gen.Select(Gen.OneOf(Names).Array[0, 6], inner.Array[6], (keys, values) =>
        {
            var o = new JsonObject();
            for (var k = 0; k < keys.Length; k++) o[keys[k]] = values[k];
            return (JsonNode?)o;
        }))));

    /// <summary>A JSON document's bytes mutated: a property removed, replaced by another value, nulled, or the text cut or a byte changed.</summary>
    public static Gen<byte[]> Mutated(byte[] valid) => Gen.Int[0, 5].SelectMany(kind => kind switch
    {
        0 => Gen.Int[0, Math.Max(0, valid.Length - 1)].Select(cut => valid[..cut]),
        1 => Gen.Select(Gen.Int[0, Math.Max(0, valid.Length - 1)], Gen.Byte, (at, b) =>
        {
            var copy = (byte[])valid.Clone();
            if (copy.Length > 0) copy[at] = b;
            return copy;
        }),
        _ => Gen.Select(Gen.Int, Json, (which, replacement) =>
        {
            if (JsonNode.Parse(valid) is not JsonObject o || o.Count == 0) return valid;
            var name = o.ElementAt(Math.Abs(which % o.Count)).Key;
            switch (kind)
            {
                case 2: o.Remove(name); break;
                case 3: o[name] = null; break;
                default: o[name] = replacement; break;
            }
            return Encoding.UTF8.GetBytes(o.ToJsonString());
        }),
    });
}

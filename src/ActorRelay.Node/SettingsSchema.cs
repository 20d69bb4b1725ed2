using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace ActorRelay.NodeProcess;

/// <summary>What a key of the relay section holds in hocon/relay.conf: a single value, a list, or a section of keys.</summary>
internal enum SettingKind { Value, List, Section }

/// <summary>
/// The keys of the <c>relay</c> section as hocon/relay.conf declares them: the node refuses a key it does not know (a
/// typo would otherwise be ignored and the default used) and a value of the wrong kind (a section where a value belongs,
/// or the reverse), naming the key and suggesting the closest known one.
/// </summary>
internal sealed class SettingsSchema
{
    private readonly Dictionary<string, SettingKind> _kinds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _children = new(StringComparer.Ordinal);

    public SettingsSchema(Config reference)
    {
        var relay = reference.GetValue("relay") ?? throw new InvalidOperationException("the reference configuration has no relay section");
        Add("relay", relay);
    }

    private void Add(string path, HoconValue value)
    {
        if (value.IsObject())
        {
            _kinds[path] = SettingKind.Section;
            var children = _children[path] = new List<string>();
            foreach (var (key, child) in value.GetObject().Items)
            {
                children.Add(key);
                Add($"{path}.{key}", child);
            }
        }
        else _kinds[path] = IsList(value) ? SettingKind.List : SettingKind.Value;
    }

    /// <summary>A list, empty ones included (Akka's IsArray is false for <c>[]</c> written without a space).</summary>
    public static bool IsList(HoconValue value) => value.IsArray() || value.Values is [HoconArray];

    /// <summary>The kind of <paramref name="path"/> (relay.…), or null for a key relay.conf does not have.</summary>
    public SettingKind? KindOf(string path) => _kinds.TryGetValue(path, out var k) ? k : null;

    /// <summary>Every key that holds a value or a list (relay.ports.min, relay.control.allow, …).</summary>
    public IEnumerable<string> Settings => _kinds.Where(k => k.Value != SettingKind.Section).Select(k => k.Key);

    /// <summary>The keys of a section, for messages ("min, max, bind-attempts").</summary>
    public IReadOnlyList<string> ChildrenOf(string section) => _children.TryGetValue(section, out var c) ? c : [];

    /// <summary>The known key closest to <paramref name="path"/> (a typo's likely intent), or null when none is close.</summary>
    public string? Closest(string path, IEnumerable<string>? among = null)
    {
        // a known key nested one section too deep (relay.relay.idle-timeout, relay.ports.ports.min) is the likeliest intent
        var candidates = among is null ? null : new HashSet<string>(among, StringComparer.Ordinal);
        var segments = path.Split('.');
        for (var skip = 2; skip < segments.Length; skip++)
        {
            var shorter = "relay." + string.Join('.', segments[skip..]);
            if (candidates?.Contains(shorter) ?? _kinds.ContainsKey(shorter)) return shorter;
        }
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var known in among ?? _kinds.Keys)
        {
            var d = Distance(path, known);
            if (d < bestDistance) (best, bestDistance) = (known, d);
        }
        return best is not null && bestDistance <= Math.Max(2, path.Length / 3) ? best : null;
    }

    /// <summary>
    /// Checks one layer of configuration (a --config file, say) against relay.conf: the relay section and its
    /// subsections are sections, every key is known and holds the kind of value relay.conf gives it, and no value
    /// anywhere is unreadable. Entries of relay.channels are checked where they are read. <paramref name="where"/>
    /// starts each message.
    /// </summary>
    public void Check(Config layer, string where)
    {
        if (layer.Root is null || !layer.Root.IsObject()) return;
        foreach (var (key, value) in layer.Root.GetObject().Items)
        {
            if (key == "relay") CheckRelay("relay", value, where);
            else CheckReadable(key, value, where);
        }
    }

    private void CheckRelay(string path, HoconValue value, string where)
    {
        var kind = KindOf(path);
        if (kind is null)
        {
            var near = Closest(path);
            throw new UsageException($"{where}: unknown setting {path}{(near is null ? "" : $" (did you mean {near}?)")}");
        }
        if (value.Values.Count == 0 && !value.IsObject()) throw Unreadable(path, where);
        switch (kind)
        {
            case SettingKind.Section when !value.IsObject():
                var keys = ChildrenOf(path);
                throw new UsageException($"{where}: {path} is a section ({string.Join(", ", keys.Take(4))}{(keys.Count > 4 ? ", …" : "")}), " +
                                         $"not a single value{(path == "relay" ? ": write relay { … } or relay.KEY = …" : "")}");
            case SettingKind.Section when ChildrenOf(path).Count == 0:
                CheckReadable(path, value, where); // a map relay.conf leaves empty for the user's own keys (relay.ng.interfaces, relay.logging.levels)
                return;
            case SettingKind.Section:
                foreach (var (key, child) in value.GetObject().Items) CheckRelay($"{path}.{key}", child, where);
                return;
            case SettingKind.Value when value.IsObject() || IsList(value):
                throw new UsageException($"{where}: {path} must be a single value, got {(value.IsObject() ? "a section" : "a list")}");
            case SettingKind.List when value.IsObject():
                throw new UsageException($"{where}: {path} must be a list, got a section");
            case SettingKind.List when path == "relay.channels":
                return; // its entries are checked where they are read, with their own keys
            default:
                CheckReadable(path, value, where);
                return;
        }
    }

    private static void CheckReadable(string path, HoconValue value, string where)
    {
        if (value.IsObject())
        {
            foreach (var (key, child) in value.GetObject().Items) CheckReadable($"{path}.{key}", child, where);
            return;
        }
        if (value.Values.Count == 0) throw Unreadable(path, where);
        if (value.IsArray())
            foreach (var item in value.GetArray().Where(i => i.Values.Count > 0)) CheckReadable(path + "[]", item, where); // "[ ]" reads as one empty item
        else if (IsList(value)) return; // []
    }

    private static UsageException Unreadable(string path, string where) =>
        path.StartsWith("include", StringComparison.Ordinal)
            ? new UsageException($"{where}: cannot read \"{path}\": only include \"FILE\" is supported")
            : new UsageException($"{where}: {path} has no value, or one that cannot be read");

    /// <summary>Levenshtein distance (edits to turn one string into the other).</summary>
    internal static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}

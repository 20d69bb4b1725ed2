using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using ActorRelay.Protocol;
using ActorRelay.Settings;

namespace ActorRelay.NodeProcess;

/// <summary>
/// A channel the node process keeps open on fixed ports for as long as it runs: a LEFT:RIGHT pair of its command line or
/// an entry of relay.channels. Like the seed's one channel, it has no timeout unless its declaration sets one
/// (idle-timeout, setup-timeout, max-lifetime), and <see cref="DeclaredChannelKeeper"/> opens it again whenever it
/// closes.
/// </summary>
internal sealed record DeclaredChannel(string Id, int Left, int Right, LatchMode? Latch = null,
    TimeSpan? IdleTimeout = null, TimeSpan? SetupTimeout = null, TimeSpan? MaxLifetime = null)
{
    /// <summary>The keys an entry of relay.channels may have.</summary>
    public static readonly IReadOnlyList<string> Keys = ["id", "left", "right", "latch", "idle-timeout", "setup-timeout", "max-lifetime"];

    /// <summary>The channel's options: the node's defaults for the latch, and no timeout the declaration does not set.</summary>
    public ChannelOptions Options => new(Latch, IdleTimeout ?? TimeSpan.Zero, SetupTimeout ?? TimeSpan.Zero, MaxLifetime ?? TimeSpan.Zero);

    /// <summary>The open request; the channel's events go to <paramref name="subscriber"/>.</summary>
    public OpenChannel Request(IActorRef subscriber) =>
        new(Id, new SideRequest(Left), new SideRequest(Right), Options, SubscribeOpener: true, Subscriber: subscriber);

    /// <summary>relay.channels of <paramref name="config"/>: a list of { id, left, right, latch, idle-timeout, setup-timeout, max-lifetime }.</summary>
    public static IReadOnlyList<DeclaredChannel> FromConfig(Config config)
    {
        var list = new List<DeclaredChannel>();
        var value = config.GetValue("relay.channels");
        if (value is null || value.Values.Count == 0 || SettingsSchema.IsList(value) && !value.IsArray()) return list; // absent, or []
        if (!value.IsArray())
            throw new UsageException("relay.channels must be a list of entries such as [ { id = \"lobby\", left = 20000, right = 20001 } ], got " +
                                     (value.IsObject() ? "a section" : $"\"{(value.IsString() ? value.GetString() : "")}\""));
        var index = 0;
        foreach (var item in value.GetArray().Where(i => i.Values.Count > 0)) // Akka reads "[ ]" as one empty item
        {
            var where = $"relay.channels[{index++}]";
            if (!item.IsObject())
                throw new UsageException($"{where} must be an entry such as {{ id = \"lobby\", left = 20000, right = 20001 }}");
            var fields = item.GetObject().Items;
            foreach (var key in fields.Keys)
                if (!Keys.Contains(key))
                {
                    var near = NodeConfiguration.Schema.Closest(key, Keys);
                    throw new UsageException($"{where}: unknown key {key}{(near is null ? "" : $" (did you mean {near}?)")}; " +
                                             $"an entry has {string.Join(", ", Keys)}");
                }
            string? Field(string name)
            {
                if (!fields.TryGetValue(name, out var v)) return null;
                if (!v.IsString()) throw new UsageException($"{where}: {name} must be a single value");
                return v.GetString();
            }
            var left = Port(Field("left") ?? throw new UsageException($"{where} has no left port"), $"{where}.left");
            var right = Port(Field("right") ?? throw new UsageException($"{where} has no right port"), $"{where}.right");
            var id = Field("id") ?? $"{left}:{right}";
            if (string.IsNullOrWhiteSpace(id)) throw new UsageException($"{where}: id must not be empty");
            LatchMode? latch = null;
            if (Field("latch") is { } l)
            {
                try { latch = RelaySettings.ParseLatchMode(l); }
                catch (ConfigurationException) { throw new UsageException($"{where}: latch must be first, rtp or follow, got \"{l}\""); }
            }
            list.Add(new DeclaredChannel(id, left, right, latch,
                Duration(Field("idle-timeout"), $"{where}.idle-timeout"), Duration(Field("setup-timeout"), $"{where}.setup-timeout"),
                Duration(Field("max-lifetime"), $"{where}.max-lifetime")));
        }
        return list;
    }

    private static int Port(string text, string key) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535
            ? p
            : throw new UsageException($"{key} must be a UDP port in 1..65535, got \"{text}\"");

    private static TimeSpan? Duration(string? text, string key)
    {
        if (text is null) return null;
        var raw = text.Trim();
        if (raw is "0" or "off") return TimeSpan.Zero;
        try
        {
            var d = ConfigurationFactory.ParseString("d = \"" + raw.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"").GetTimeSpan("d", allowInfinite: false);
            if (d < TimeSpan.Zero) throw new FormatException();
            return d;
        }
        catch (Exception)
        {
            throw new UsageException($"{key} must be a duration such as 500ms, 30s or 2m (0 or off: none), got \"{raw}\"");
        }
    }
}

using System.Globalization;
using System.Net;
using Akka.Configuration;
using ActorRelay.Latching;
using ActorRelay.Settings;

namespace ActorRelay.Ng;

/// <summary>
/// The NG endpoint's settings, read from the <c>relay.ng</c> section (defaults in hocon/relay.conf, the one place
/// they live). A value that cannot be read fails with a <see cref="ConfigurationException"/> naming the key.
/// </summary>
public sealed record NgSettings
{
    /// <summary>Where to take NG commands (UDP); empty = no NG endpoint.</summary>
    public required IReadOnlyList<IPEndPoint> Listen { get; init; }
    /// <summary>Who may send NG commands (addresses or prefixes).</summary>
    public required IReadOnlyList<SourceFilter> Allow { get; init; }
    public required TimeSpan IdleTimeout { get; init; }
    public required TimeSpan SetupTimeout { get; init; }
    /// <summary>Probation of the RTP channels of NG calls (latch modes rtp and auto).</summary>
    public required int Probation { get; init; }
    /// <summary>Logical interface name (the NG "direction" key) → the address a side facing it binds to.</summary>
    public required IReadOnlyDictionary<string, IPAddress> Interfaces { get; init; }
    public required TimeSpan ReplyCacheMaxAge { get; init; }
    public required int ReplyCacheEntries { get; init; }
    public required long ReplyCacheMaxBytes { get; init; }
    public required TimeSpan NodeTimeout { get; init; }
    /// <summary>SO_RCVBUF of each NG socket in bytes; 0 = the kernel's default.</summary>
    public required int ReceiveBuffer { get; init; }

    public bool Enabled => Listen.Count > 0;

    /// <summary>The shipped defaults.</summary>
    public static NgSettings Default => From(RelaySettings.DefaultConfig());

    /// <summary>Reads <c>relay.ng</c> of a full config (falling back to the shipped defaults).</summary>
    public static NgSettings From(Config config)
    {
        var section = config.WithFallback(RelaySettings.DefaultConfig()).GetConfig("relay.ng");
        var s = new NgSettings
        {
            Listen = StringList(section, "listen").Select(e => ParseListen(e, "relay.ng.listen")).ToList(),
            Allow = StringList(section, "allow").Select(ParseAllow).ToList(),
            IdleTimeout = Duration(section, "idle-timeout"),
            SetupTimeout = Duration(section, "setup-timeout"),
            Probation = (int)Number(section, "probation", 1, 64),
            Interfaces = ReadInterfaces(section),
            ReplyCacheMaxAge = Duration(section, "reply-cache.max-age"),
            ReplyCacheEntries = (int)Number(section, "reply-cache.entries", 1, 10_000_000),
            ReplyCacheMaxBytes = Number(section, "reply-cache.max-bytes", 1, long.MaxValue),
            NodeTimeout = Duration(section, "node-timeout"),
            ReceiveBuffer = (int)Number(section, "receive-buffer", 0, int.MaxValue),
        };
        if (s.ReplyCacheMaxAge <= TimeSpan.Zero) throw new ConfigurationException("relay.ng.reply-cache.max-age must be > 0");
        if (s.NodeTimeout <= TimeSpan.Zero) throw new ConfigurationException("relay.ng.node-timeout must be > 0");
        return s;
    }

    /// <summary>"127.0.0.1:2223", "[::1]:2223" → an endpoint (port 0: any free port); anything else names the key and the value.</summary>
    public static IPEndPoint ParseListen(string text, string key = "--ng")
    {
        var t = text.Trim();
        if (IPEndPoint.TryParse(t, out var ep) && ep.Port is >= 0 and <= 65535 && (t.Contains(']') || t.Count(c => c == ':') == 1))
            return ep;
        throw new ConfigurationException($"{key} must be ADDRESS:PORT (e.g. 127.0.0.1:2223 or [::1]:2223), got \"{text}\"");
    }

    private static SourceFilter ParseAllow(string text) =>
        SourceFilter.TryParse(text, out var filter, out var why) && filter!.Port is null
            ? filter
            : throw new ConfigurationException($"relay.ng.allow entries are addresses or prefixes (no port), got \"{text}\": {why}");

    private static IReadOnlyDictionary<string, IPAddress> ReadInterfaces(Config section)
    {
        var result = new Dictionary<string, IPAddress>(StringComparer.Ordinal);
        var value = section.GetValue("interfaces");
        if (value is null || value.IsEmpty) return result;
        var obj = value.GetObject() ?? throw new ConfigurationException("relay.ng.interfaces must be an object { name = \"address\" }");
        foreach (var (name, v) in obj.Items)
        {
            var text = v.IsString() ? v.GetString().Trim() : "";
            result[name] = IPAddress.TryParse(text.Trim('[', ']'), out var a)
                ? a
                : throw new ConfigurationException($"relay.ng.interfaces.{name} must be an IP address, got \"{text}\"");
        }
        return result;
    }

    // A list of strings, or one string of comma-separated entries (what an environment variable can carry).
    private static IReadOnlyList<string> StringList(Config section, string key)
    {
        var value = section.GetValue(key);
        if (value is null || value.IsEmpty) return [];
        try
        {
            if (value.IsString()) return value.GetString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            return section.GetStringList(key).Select(v => v.Trim()).Where(v => v.Length > 0).ToList();
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"relay.ng.{key} must be a list of strings, or one string of comma-separated entries: {e.Message}");
        }
    }

    private static TimeSpan Duration(Config section, string key)
    {
        var value = section.GetValue(key);
        if (value is null || value.IsEmpty) throw new ConfigurationException($"relay.ng.{key} is missing");
        var raw = value.IsString() ? value.GetString().Trim() : "";
        if (raw is "0" or "off") return TimeSpan.Zero;
        try { return section.GetTimeSpan(key, allowInfinite: false); }
        catch (Exception) { throw new ConfigurationException($"relay.ng.{key} must be a duration such as 500ms, 30s or 2m, got \"{raw}\""); }
    }

    private static long Number(Config section, string key, long min, long max)
    {
        var value = section.GetValue(key);
        var raw = value is { IsEmpty: false } && value.IsString() ? value.GetString().Trim() : "";
        if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new ConfigurationException($"relay.ng.{key} must be a whole number in {min}..{max}, got \"{raw}\"");
        return v;
    }
}

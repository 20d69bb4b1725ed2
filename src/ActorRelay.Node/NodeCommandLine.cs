using ActorRelay.Cluster;
using System.CommandLine;
using System.Globalization;
using System.Net;
using Akka.Configuration;
using ActorRelay.Protocol;
using ActorRelay.Settings;

namespace ActorRelay.NodeProcess;

/// <summary>What the command line asked for.</summary>
internal sealed record NodeOptions(
    IReadOnlyList<DeclaredChannel> Pairs,
    string? ConfigFile,
    string? Bind,
    string? Advertise,
    string? Transport,
    string? Latch,
    string? RemoteHost,
    int? RemotePort,
    string? LogLevel,
    bool KeepChannels = false,
    IReadOnlyList<string>? Ng = null,
    IReadOnlyList<string>? Metrics = null,
    IReadOnlyList<string>? Seeds = null);

/// <summary>Thrown for a command line the node cannot run with; Message is what the user sees.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The node's command line: the seed's LEFT:RIGHT pairs plus options, parsed with System.CommandLine.
/// Pair errors use the seed's words: "Usage: …" and "Invalid port number: …".
/// </summary>
internal static class NodeCommandLine
{
    public const string Usage = "Usage: ActorRelay.Node [options] [leftPort:rightPort ...]  (--help for options)";

    private static readonly Argument<string[]> PairsArgument = new("pairs")
    {
        Description = "leftPort:rightPort — opens one relay channel on these fixed UDP ports (several allowed)",
        Arity = ArgumentArity.ZeroOrMore,
    };
    private static readonly Option<string?> ConfigOption = new("--config") { Description = "HOCON file overriding hocon/relay.conf defaults" };
    private static readonly Option<string?> BindOption = new("--bind") { Description = "address the sides bind to (default :: = all interfaces, IPv4 and IPv6)" };
    private static readonly Option<string?> AdvertiseOption = new("--advertise") { Description = "address written into ChannelOpened for clients (relay behind a 1:1 NAT)" };
    private static readonly Option<string?> TransportOption = new("--transport") { Description = "socket (default) or akka-io" };
    private static readonly Option<string?> LatchOption = new("--latch") { Description = "default latch mode: auto (default: RTP rules for RTP, first's for other protocols), first, rtp or follow (unsafe, the seed's)" };
    private static readonly Option<string?> RemoteHostOption = new("--remote-host") { Description = "Akka.Remote address of the control plane (default 127.0.0.1)" };
    private static readonly Option<string?> RemotePortOption = new("--remote-port") { Description = "Akka.Remote TCP port (default 4053; 0 = any)" };
    private static readonly Option<bool> KeepChannelsOption = new("--keep-channels")
    {
        Description = "on SIGTERM keep the channels recorded instead of closing them: the next start brings them back (a planned restart)",
    };
    private static readonly Option<string[]> NgOption = new("--ng")
    {
        Description = "ADDR:PORT — listen for rtpengine's NG protocol (Kamailio/OpenSIPS rtpengine module) on this UDP address; repeatable",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<string[]> SeedOption = new("--seed")
    {
        Description = "HOST:PORT — a seed node of the relay cluster (its --remote-host and --remote-port); repeatable. Without it the node runs alone",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<string[]> MetricsOption = new("--metrics")
    {
        Description = "ADDR:PORT — serve /metrics (Prometheus), /healthz and /ready over HTTP on this address, e.g. 127.0.0.1:9464; repeatable",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<string?> LogLevelOption = new("--log-level")
    {
        Description = "verbose, debug, information, warning, error (default: relay.logging.level, information)",
    };

    public static RootCommand Command() => new("ActorRelay node: a UDP relay with NAT latching, channels opened by message or as LEFT:RIGHT pairs")
    {
        PairsArgument, ConfigOption, BindOption, AdvertiseOption, TransportOption, LatchOption,
        RemoteHostOption, RemotePortOption, LogLevelOption, KeepChannelsOption, NgOption, MetricsOption, SeedOption,
    };

    /// <summary>
    /// The options, each checked here so a bad one is refused naming the option (not the setting it becomes):
    /// <see cref="UsageException"/> with one line.
    /// </summary>
    public static NodeOptions Read(ParseResult r)
    {
        if (r.Errors.Count > 0) throw new UsageException($"{r.Errors[0].Message} (--help for options)");
        var pairs = (r.GetValue(PairsArgument) ?? []).Select(ParsePair).ToList();
        var transport = r.GetValue(TransportOption);
        if (transport is not null) Check("--transport", () => RelaySettings.ParseTransport(transport), "socket or akka-io", transport);
        var latch = r.GetValue(LatchOption);
        if (latch is not null) Check("--latch", () => RelaySettings.ParseLatchMode(latch), "auto, first, rtp or follow", latch);
        var bind = r.GetValue(BindOption);
        if (bind is not null && !IPAddress.TryParse(bind.Trim('[', ']'), out _)) throw new UsageException($"--bind must be an IP address, got \"{bind}\"");
        var advertise = r.GetValue(AdvertiseOption);
        if (advertise is not null && !IPAddress.TryParse(advertise.Trim('[', ']'), out _))
            throw new UsageException($"--advertise must be an IP address, got \"{advertise}\"");
        var remoteHost = r.GetValue(RemoteHostOption);
        if (remoteHost is not null && string.IsNullOrWhiteSpace(remoteHost)) throw new UsageException("--remote-host must not be empty");
        int? remotePort = r.GetValue(RemotePortOption) is { } port
            ? int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p <= 65535
                ? p
                : throw new UsageException($"--remote-port must be a TCP port in 0..65535 (0 = any free port), got \"{port}\"")
            : null;
        var seeds = r.GetValue(SeedOption) ?? [];
        foreach (var seed in seeds)
            try { _ = RelayMembership.SeedAddress("actor-relay", seed); }
            catch (ConfigurationException) { throw new UsageException($"--seed must be HOST:PORT (a seed node's --remote-host and --remote-port), got \"{seed}\""); }
        var level = r.GetValue(LogLevelOption);
        if (level is not null) _ = NodeLogging.Parse(level, "--log-level");
        CheckDistinct(pairs, "the command line");
        return new NodeOptions(pairs, r.GetValue(ConfigOption), bind, advertise, transport, latch, remoteHost, remotePort, level,
            r.GetValue(KeepChannelsOption), r.GetValue(NgOption) ?? [], r.GetValue(MetricsOption) ?? [], seeds);
    }

    private static void Check(string option, Action parse, string expected, string value)
    {
        try { parse(); }
        catch (ConfigurationException) { throw new UsageException($"{option} must be {expected}, got \"{value}\""); }
    }

    /// <summary>
    /// Channels opened at start must not share a port or an id: two channels on one port cannot both bind, and the second
    /// would fail only once the node is up. <paramref name="where"/> says where they were declared.
    /// </summary>
    public static void CheckDistinct(IReadOnlyList<DeclaredChannel> channels, string where)
    {
        var ports = new Dictionary<int, DeclaredChannel>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in channels)
        {
            if (c.Left == c.Right) throw new UsageException($"Channel {c.Id} in {where} uses port {c.Left} for both sides");
            foreach (var port in new[] { c.Left, c.Right })
            {
                if (ports.TryGetValue(port, out var other))
                    throw new UsageException($"Port {port} is declared twice in {where}: by channel {other.Id} and by channel {c.Id}");
                ports[port] = c;
            }
            if (!ids.Add(c.Id)) throw new UsageException($"Channel id {c.Id} is declared twice in {where}");
        }
    }

    /// <summary>"20000:20001" → ports; anything else → the seed's errors.</summary>
    public static DeclaredChannel ParsePair(string text)
    {
        if (text.StartsWith('-')) throw new UsageException($"Unknown option {text} (--help for options)");
        var parts = text.Split(':');
        if (parts.Length != 2) throw new UsageException(Usage);
        return new DeclaredChannel(text, ParsePort(parts[0]), ParsePort(parts[1]));
    }

    public static int ParsePort(string text) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535
            ? p
            : throw new UsageException($"Invalid port number: {text}");
}

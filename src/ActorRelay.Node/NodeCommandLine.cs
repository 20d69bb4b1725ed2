using System.CommandLine;
using ActorRelay.Protocol;

namespace ActorRelay.NodeProcess;

/// <summary>One LEFT:RIGHT pair (or a channel declared in configuration) to open at start.</summary>
internal sealed record StartupChannel(string Id, int Left, int Right, LatchMode? Latch);

/// <summary>What the command line asked for.</summary>
internal sealed record NodeOptions(
    IReadOnlyList<StartupChannel> Pairs,
    string? ConfigFile,
    string? Bind,
    string? Advertise,
    string? Transport,
    string? Latch,
    string? RemoteHost,
    int? RemotePort,
    string LogLevel,
    bool KeepChannels = false,
    IReadOnlyList<string>? Ng = null);

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
    private static readonly Option<int?> RemotePortOption = new("--remote-port") { Description = "Akka.Remote TCP port (default 4053; 0 = any)" };
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
    private static readonly Option<string> LogLevelOption = new("--log-level")
    {
        Description = "verbose, debug, information (default), warning, error",
        DefaultValueFactory = _ => "information",
    };

    public static RootCommand Command() => new("ActorRelay node: a UDP relay with NAT latching, channels opened by message or as LEFT:RIGHT pairs")
    {
        PairsArgument, ConfigOption, BindOption, AdvertiseOption, TransportOption, LatchOption,
        RemoteHostOption, RemotePortOption, LogLevelOption, KeepChannelsOption, NgOption,
    };

    public static NodeOptions Read(ParseResult r)
    {
        var pairs = (r.GetValue(PairsArgument) ?? []).Select(ParsePair).ToList();
        return new NodeOptions(pairs, r.GetValue(ConfigOption), r.GetValue(BindOption), r.GetValue(AdvertiseOption),
            r.GetValue(TransportOption), r.GetValue(LatchOption), r.GetValue(RemoteHostOption), r.GetValue(RemotePortOption),
            r.GetValue(LogLevelOption) ?? "information", r.GetValue(KeepChannelsOption), r.GetValue(NgOption) ?? []);
    }

    /// <summary>"20000:20001" → ports; anything else → the seed's errors.</summary>
    public static StartupChannel ParsePair(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 2) throw new UsageException(Usage);
        return new StartupChannel(text, ParsePort(parts[0]), ParsePort(parts[1]), null);
    }

    public static int ParsePort(string text) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535
            ? p
            : throw new UsageException($"Invalid port number: {text}");
}

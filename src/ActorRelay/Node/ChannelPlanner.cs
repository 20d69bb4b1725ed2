using System.Net;
using ActorRelay.Channels;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using ActorRelay.Quality;
using ActorRelay.RelayLoops;
using ActorRelay.Settings;

namespace ActorRelay.Node;

/// <summary>Checks an <see cref="OpenChannel"/> request and turns it, with the node's settings and ports, into a <see cref="ChannelSpec"/>. Pure.</summary>
internal static class ChannelPlanner
{
    public const int MaxChannelIdLength = 128;

    /// <summary>Why the request cannot be served, or null when it is well formed.</summary>
    public static (RejectReason Reason, string Message)? Validate(OpenChannel o)
    {
        if (string.IsNullOrWhiteSpace(o.ChannelId)) return (RejectReason.InvalidRequest, "ChannelId must not be empty");
        if (o.ChannelId.Length > MaxChannelIdLength) return (RejectReason.InvalidRequest, $"ChannelId is longer than {MaxChannelIdLength} characters");
        foreach (var (name, side) in new[] { ("left", o.Left), ("right", o.Right) })
        {
            if (side?.Port is { } p && (p < 1 || p > 65535))
                return (RejectReason.PortOutOfRange, $"Invalid port number: {p} ({name}; must be 1..65535)");
            if (side?.BindAddress is { } a && !IPAddress.TryParse(a.Trim('[', ']'), out _))
                return (RejectReason.InvalidRequest, $"{name} bind address is not an IP address: \"{a}\"");
            if (side?.ExpectedSource is { } x && !SourceFilter.TryParse(x, out _, out var why))
                return (RejectReason.InvalidRequest, $"{name} expected source: {why}");
        }
        if (o.Left?.Port is { } l && l == o.Right?.Port)
            return (RejectReason.InvalidRequest, $"left and right must use different ports, both are {l}");
        if (o.Options is { } opt)
        {
            if (opt.LatchMode is { } m && !Enum.IsDefined(m)) return (RejectReason.InvalidRequest, $"unknown latch mode {m}");
            if (opt.IdleTimeout < TimeSpan.Zero || opt.SetupTimeout < TimeSpan.Zero || opt.MaxLifetime < TimeSpan.Zero ||
                opt.LearningWindow < TimeSpan.Zero)
                return (RejectReason.InvalidRequest, "timeouts must be >= 0");
            if (opt.Probation is < 1 or > 64) return (RejectReason.InvalidRequest, "probation must be in 1..64");
            if (opt.RtpMaps is { } maps && (maps.Count > 128 || maps.Any(m => m is null || !new PayloadFormats().TryRegisterRtpmap(m))))
                return (RejectReason.InvalidRequest, "RtpMaps must be at most 128 entries like \"96 opus/48000/2\"");
        }
        return null;
    }

    /// <summary>The channel a validated request asks for, on the ports the node took for it.</summary>
    /// <param name="advertise">The address channels advertise for sides on the node's bind address (or an unspecified one).</param>
    /// <param name="restore">A channel a restarted node brings back: its ports are fixed (the clients know them) and its latches set.</param>
    public static ChannelSpec Plan(OpenChannel o, int leftPort, int rightPort, RelaySettings settings, IPAddress? advertise, RelayClock clock,
        RelayLoop? loop, ChannelRestore? restore = null, Metrics.RelayMetrics? metrics = null)
    {
        var options = o.Options ?? new ChannelOptions();
        var policy = new LatchPolicy(options.LatchMode ?? settings.LatchMode, options.LearningWindow ?? settings.LearningWindow,
            options.Probation ?? settings.Probation, settings.MaxSequenceJump);
        var leftBind = BindAddress(o.Left, settings);
        var rightBind = BindAddress(o.Right, settings);
        return new ChannelSpec(
            o.ChannelId,
            new IPEndPoint(leftBind, leftPort),
            new IPEndPoint(rightBind, rightPort),
            LeftPortFromPool: o.Left?.Port is null && restore is null,
            RightPortFromPool: o.Right?.Port is null && restore is null,
            Advertise(o.Left, leftBind, advertise),
            Advertise(o.Right, rightBind, advertise),
            Expected(o.Left) is { } leftExpected ? policy with { Expected = leftExpected } : policy,
            Expected(o.Right) is { } rightExpected ? policy with { Expected = rightExpected } : policy,
            options.IdleTimeout ?? settings.IdleTimeout,
            options.SetupTimeout ?? settings.SetupTimeout,
            options.MaxLifetime ?? settings.MaxLifetime,
            settings,
            clock,
            loop,
            restore,
            settings.QualityEnabled ? Formats(options.RtpMaps) : null,
            metrics);
    }

    /// <summary>A side bound to an address of its request's own advertises it; otherwise the node's advertised address.</summary>
    private static IPAddress? Advertise(SideRequest? side, IPAddress bind, IPAddress? advertise) =>
        side?.BindAddress is not null && !Control.HostAddresses.IsUnspecified(bind) ? bind : advertise;

    /// <summary>The call's payload types for the quality figures: the static ones, and the dynamic ones the request names.</summary>
    private static PayloadFormats Formats(IReadOnlyList<string>? rtpMaps)
    {
        var formats = new PayloadFormats();
        foreach (var map in rtpMaps ?? []) formats.TryRegisterRtpmap(map);
        return formats;
    }

    private static SourceFilter? Expected(SideRequest? side) =>
        side?.ExpectedSource is { } text && SourceFilter.TryParse(text, out var f, out _) ? f : null;

    private static IPAddress BindAddress(SideRequest? side, RelaySettings settings) =>
        side?.BindAddress is { } text ? IPAddress.Parse(text.Trim('[', ']')) : settings.BindAddress;
}
